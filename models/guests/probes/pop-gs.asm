; probe-pop-gs: POP GS with RPL 1, likewise.
%include "probe.inc"
        push dword 0x11
        pop gs
        probe_end
