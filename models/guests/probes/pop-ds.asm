; probe-pop-ds: POP DS with RPL 1, likewise.
%include "probe.inc"
        push dword 0x11
        pop ds
        probe_end
