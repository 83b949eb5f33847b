; probe-verr-mem: VERR with a memory selector, likewise.
%include "probe.inc"
        mov word [buffer], 0x11
        verr word [buffer]
        probe_end
