; callret3: call/ret at ring 3 with paging on — 100 times a recursive sum(n) = n + sum(n − 1)
; from n = 1000 (1,000 nested calls on the user stack). The result: 100 × 500,500.
%include "lib/kernel.inc"
workload_name: db "callret3", 0
kernel_main:
        start_user

align 4096
user_start:
user_main:
        xor ebx, ebx
        mov edi, 100
.again: push dword 1000
        call sum
        add esp, 4
        add ebx, eax
        dec edi
        jnz .again
        mov eax, SYS_EXIT
        int 0x80
; sum: EAX ← n + sum(n − 1), n on the stack.
sum:    mov ecx, [esp + 4]
        test ecx, ecx
        jz .zero
        dec ecx
        push ecx
        call sum
        add esp, 4
        add eax, [esp + 4]
        ret
.zero:  xor eax, eax
        ret
user_end:
