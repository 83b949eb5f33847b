; probe-verw-mem: VERW with a memory selector, likewise.
%include "probe.inc"
        mov word [buffer], 0x11
        verw word [buffer]
        probe_end
