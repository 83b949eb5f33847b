; divzero: for i = 1 … 1000, ring 3 divides i × 7919 by i — by zero when i is a multiple of 10.
; The kernel's #DE handler resumes after the DIV (two bytes) with EAX = 1. The result is the
; sum of the quotients: 900 × 7919 + 100.
%include "lib/kernel.inc"
workload_name: db "divzero", 0
kernel_main:
        mov dword [exception_handlers + 0 * 4], divide_error
        start_user

divide_error:
        mov eax, [esp + 4]
        add dword [eax + F_EIP], 2
        mov dword [eax + F_EAX], 1
        ret

align 4096
user_start:
user_main:
        xor esi, esi                ; the sum
        mov edi, 1                  ; i
.next:  mov eax, edi
        xor edx, edx
        mov ecx, 10
        div ecx                     ; EDX = i mod 10
        mov ecx, edi
        test edx, edx
        jnz .divide
        xor ecx, ecx                ; a multiple of 10: divide by zero
.divide:
        mov eax, edi
        imul eax, eax, 7919
        xor edx, edx
        div ecx                     ; F7 F1: two bytes
        add esi, eax
        inc edi
        cmp edi, 1000
        jbe .next
        mov ebx, esi
        mov eax, SYS_EXIT
        int 0x80
user_end:
