; probe-pop-ss: POP SS with RPL 1: RPL ≠ CPL refuses it on the bare machine (#GP); at ring 1 it is the CPL.
%include "probe.inc"
        push dword 0x11
        pop ss
        probe_end
