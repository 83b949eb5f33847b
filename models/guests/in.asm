; in: 1,000 rounds of port I/O with a device — the kernel writes the round number to the 16550's
; scratch register and reads it back, and reads the line status (THRE and TEMT set: 0x60). The
; result is the sum of what was read: Σ (r mod 256) + 1,000 × 0x60.
%include "lib/kernel.inc"
workload_name: db "in", 0
kernel_main:
        xor ebx, ebx
        xor ecx, ecx
.round: mov eax, ecx
        mov dx, COM1 + 7                        ; scratch
        out dx, al
        xor eax, eax
        in al, dx
        add ebx, eax
        mov dx, COM1 + 5                        ; LSR
        in al, dx
        add ebx, eax
        inc ecx
        cmp ecx, 1000
        jb .round
        jmp exit_with_result

user_start:
user_end:
