; probe-mov-sreg-rpl1: MOV DS with RPL 1: the guest's DPL 0 descriptor refuses it (#GP), the real DPL 1 one loads.
%include "probe.inc"
        mov ax, 0x11
        mov ds, ax
        probe_end
