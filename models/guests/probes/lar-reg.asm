; probe-lar-reg: LAR reads the real descriptor: DPL 1 where the guest wrote 0.
%include "probe.inc"
        mov ecx, 0x08
        lar eax, ecx
        probe_end
