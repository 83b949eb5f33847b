; probe-pushf: PUSHFD pushes the real IF (1: the monitor keeps interrupts on) where the guest has 0.
%include "probe.inc"
        pushfd
        pop eax
        probe_end
