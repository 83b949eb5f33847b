; probe-popf: POPFD at ring 1 with IOPL 0 drops the guest's IF = 1 without trapping.
%include "probe.inc"
        push dword 0x202
        popfd
        probe_end
