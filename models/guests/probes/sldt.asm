; probe-sldt: SLDT stores the real LDTR: null, as the guest's is (an LDT is a model gap under the monitor), so nothing shows.
%include "probe.inc"
        sldt eax
        sldt word [buffer]
        probe_end
