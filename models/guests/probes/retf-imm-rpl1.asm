; probe-retf-imm-rpl1: RETF imm16 to CS with RPL 1, likewise.
%include "probe.inc"
        push dword 0x09
        push dword .back
        retf 0
.back:
        probe_end
