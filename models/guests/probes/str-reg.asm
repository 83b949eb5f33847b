; probe-str-reg: STR r32 stores the real TR: the monitor's TSS selector.
%include "probe.inc"
        str eax
        probe_end
