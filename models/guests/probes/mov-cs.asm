; probe-mov-cs: MOV r32, CS shows the real RPL (1) of the guest kernel's code selector.
%include "probe.inc"
        mov eax, cs
        probe_end
