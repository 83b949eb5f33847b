; probe-smsw-mem: SMSW m16 stores the real CR0's low word: TS, set by the guest (MOV CR0 is emulated), is not in it.
%include "probe.inc"
        mov eax, cr0
        or eax, 8                   ; CR0.TS
        mov cr0, eax
        smsw word [buffer]
        probe_end
