; probe-lsl-mem: LSL with a memory selector, likewise.
%include "probe.inc"
        mov word [buffer], 0x10
        lsl eax, word [buffer]
        probe_end
