; probe-jmp-far: a far JMP to the guest kernel's code selector with RPL 1. Native code at CPL 0 refuses it (#GP: RPL > CPL for a non-conforming segment); at ring 1 it is a jump within the ring.
%include "probe.inc"
        jmp 0x09:.back
.back:  probe_end
