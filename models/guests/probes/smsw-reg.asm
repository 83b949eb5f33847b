; probe-smsw-reg: SMSW r32 stores the real CR0 (paging on, WP) where the guest's has neither.
%include "probe.inc"
        smsw eax
        probe_end
