; probe-pop-es: POP ES with RPL 1, likewise.
%include "probe.inc"
        push dword 0x11
        pop es
        probe_end
