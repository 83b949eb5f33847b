; probe-str-mem: STR m16 stores the real TR.
%include "probe.inc"
        str word [buffer]
        probe_end
