; probe-lar-mem: LAR with a memory selector, likewise.
%include "probe.inc"
        mov word [buffer], 0x08
        lar eax, word [buffer]
        probe_end
