; probe-retf: a far return to the guest kernel's own code selector (RPL 0) faults at ring 1 (RPL < CPL) and is emulated: nothing shows. (With RPL 1 it diverges: retf-rpl1.)
%include "probe.inc"
        push dword 0x08
        push dword .back
        retf
.back:  push dword 0x08
        push dword .again
        retf 0
.again: probe_end
