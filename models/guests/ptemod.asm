; ptemod: the kernel remaps one linear page between 16 frames, 4,096 times, with INVLPG after
; each change, writing the round number through the new mapping and reading the previous
; round's value back through it again later. The result is the sum of all values read.
%include "lib/kernel.inc"
ROUNDS equ 4096
WINDOW equ HEAP                     ; the page remapped
workload_name: db "ptemod", 0
frames: times 16 dd 0
kernel_main:
        xor ecx, ecx
.alloc: call alloc_frame
        mov [frames + ecx * 4], eax
        inc ecx
        cmp ecx, 16
        jb .alloc
        xor ebx, ebx                ; the sum
        xor edi, edi                ; the round
.round: mov esi, edi
        and esi, 15
        mov eax, WINDOW
        mov edx, [frames + esi * 4]
        mov ecx, 3
        call map_page               ; PTE update + INVLPG
        add ebx, [WINDOW]           ; what the round 16 earlier left (0 at first)
        mov [WINDOW], edi
        inc edi
        cmp edi, ROUNDS
        jb .round
        jmp exit_with_result

; No ring-3 code: the kernel does the work.
user_start:
user_end:
