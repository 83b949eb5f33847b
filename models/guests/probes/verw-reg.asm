; probe-verw-reg: VERW with RPL 1, likewise for writing.
%include "probe.inc"
        mov ecx, 0x11
        verw cx
        probe_end
