; probe-sidt: SIDT stores the real IDTR.
%include "probe.inc"
        sidt [buffer]
        probe_end
