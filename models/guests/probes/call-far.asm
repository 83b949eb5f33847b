; probe-call-far: a far CALL to the guest kernel's own code selector pushes the CS it runs with: RPL 1 at ring 1.
%include "probe.inc"
        call 0x08:.there
.there: pop eax
        pop ebx
        probe_end
