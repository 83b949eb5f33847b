; probe-push-cs: PUSH CS pushes the real selector, RPL 1.
%include "probe.inc"
        push cs
        pop eax
        probe_end
