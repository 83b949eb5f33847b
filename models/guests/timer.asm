; timer: the local APIC timer, periodic every 5,000 clock ticks (divide by 1), interrupts a
; ring-3 busy loop 50 times; each interrupt reads the TSC. Time is retired instructions, so the
; result — the TSC at the 50th interrupt minus the TSC at the first — is exactly 49 × 5,000.
%include "lib/kernel.inc"
TICKS equ 50
PERIOD equ 5000
workload_name: db "timer", 0
ticks: dd 0
first: dd 0
kernel_main:
        mov eax, timer_interrupt
        mov ebx, 0x20
        mov cl, 0x8E
        call set_gate
        mov dword [APIC + 0xF0], 0x1FF          ; SVR: enabled, spurious vector 0xFF
        mov dword [APIC + 0x3E0], 0xB           ; divide by 1
        mov dword [APIC + 0x320], 0x20 | 1 << 17   ; LVT timer: vector 0x20, periodic
        mov dword [APIC + 0x380], PERIOD
        start_user

timer_interrupt:
        push eax
        push edx
        rdtsc
        inc dword [ticks]
        cmp dword [ticks], 1
        jne .later
        mov [first], eax
.later: mov dword [APIC + 0xB0], 0              ; EOI
        cmp dword [ticks], TICKS
        jae .done
        pop edx
        pop eax
        iret_friendly
.done:  sub eax, [first]
        mov ebx, eax
        jmp exit_with_result

align 4096
user_start:
user_main:
        inc esi
        jmp user_main
user_end:
