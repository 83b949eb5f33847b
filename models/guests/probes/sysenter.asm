; probe-sysenter: WRMSR of the SYSENTER MSRs is emulated into the virtual CPU; the real
; SYSENTER_CS stays 0, so SYSENTER faults (#GP(0)) and is emulated against the guest's: nothing
; shows.
%include "probe.inc"
        xor edx, edx
        mov ecx, 0x174              ; IA32_SYSENTER_CS
        mov eax, 0x08
        wrmsr
        mov ecx, 0x175              ; IA32_SYSENTER_ESP
        mov eax, 0x80000
        wrmsr
        mov ecx, 0x176              ; IA32_SYSENTER_EIP
        mov eax, entered
        wrmsr
        sysenter
entered:
        probe_end
