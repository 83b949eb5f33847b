; compute: a ring-3 compute loop with paging on (the bench's paged MIPS): 250,000 rounds of
; x ← x × 1103515245 + 12345, y ← y xor (x >> 7), rotating y by 3. The result is y.
%include "lib/kernel.inc"
ROUNDS equ 250000
workload_name: db "compute", 0
kernel_main:
        start_user

align 4096
user_start:
user_main:
        mov esi, 1                  ; x
        xor ebx, ebx                ; y
        mov ecx, ROUNDS
.round: imul esi, esi, 1103515245
        add esi, 12345
        mov eax, esi
        shr eax, 7
        xor ebx, eax
        rol ebx, 3
        dec ecx
        jnz .round
        mov eax, SYS_EXIT
        int 0x80
user_end:
