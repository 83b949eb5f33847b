; A call/ret-heavy loop: small functions called with arguments on the stack.
; The second bench guest for `make bench`. Result: EAX = accumulator, halts.
bits 32
org 0x1000

ROUNDS equ 2000000

start:
        mov     esp, 0x90000
        xor     ebx, ebx
        mov     ecx, ROUNDS
.loop:  push    ecx
        call    mix
        add     esp, 4
        add     ebx, eax
        call    leaf
        dec     ecx
        jnz     .loop
        mov     eax, ebx
        hlt

mix:    push    ebp
        mov     ebp, esp
        mov     eax, [ebp + 8]
        imul    eax, eax, 31
        xor     eax, 0x5A5A
        call    leaf
        pop     ebp
        ret

leaf:   lea     eax, [eax + ebx * 2 + 7]
        ret
