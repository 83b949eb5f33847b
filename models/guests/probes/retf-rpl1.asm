; probe-retf-rpl1: RETF to CS with RPL 1: the guest's DPL 0 code refuses it (#GP); at ring 1 it is a return to the same ring.
%include "probe.inc"
        push dword 0x09
        push dword .back
        retf
.back:
        probe_end
