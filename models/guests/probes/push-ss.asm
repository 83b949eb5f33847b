; probe-push-ss: PUSH SS pushes the real selector, RPL 1.
%include "probe.inc"
        push ss
        pop eax
        probe_end
