; A compute loop over a 64 KiB buffer: loads, stores, ALU, shifts and rotates, Jcc.
; The bench guest for `make bench`; also a test of the engine against unicorn.
; Loaded at 0x1000 (docs/loading.md). Result: EAX = checksum, halts.
bits 32
org 0x1000

BUF  equ 0x100000          ; 1 MiB: the 64 KiB work buffer
SIZE equ 0x10000
PASSES equ 40

start:
        mov     esp, 0x90000
        ; fill the buffer with a pattern
        mov     edi, BUF
        mov     ecx, SIZE / 4
        mov     eax, 0x12345678
.fill:  mov     [edi], eax
        rol     eax, 5
        add     eax, ecx
        add     edi, 4
        dec     ecx
        jnz     .fill

        xor     ebx, ebx            ; checksum
        mov     ebp, PASSES
.pass:  mov     esi, BUF
        mov     ecx, SIZE / 4
.loop:  mov     eax, [esi]
        mov     edx, eax
        shr     edx, 3
        xor     eax, edx
        add     ebx, eax
        rol     ebx, 1
        sub     eax, ecx
        and     eax, 0x7FFFFFFF
        or      eax, 1
        shl     edx, 2
        sar     eax, 1
        adc     ebx, edx
        mov     [esi], eax
        add     esi, 4
        dec     ecx
        jnz     .loop
        dec     ebp
        jnz     .pass
        mov     eax, ebx
        hlt
