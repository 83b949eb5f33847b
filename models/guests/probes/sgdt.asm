; probe-sgdt: SGDT stores the real GDTR: the monitor's table in the top 64 MiB.
%include "probe.inc"
        sgdt [buffer]
        probe_end
