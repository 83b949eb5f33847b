; probe-verr-reg: VERR with RPL 1: the guest's DPL 0 descriptor is not readable from RPL 1; the real, DPL 1 one is.
%include "probe.inc"
        mov ecx, 0x11
        verr cx
        probe_end
