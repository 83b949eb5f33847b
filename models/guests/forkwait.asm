; forkwait: 64 times, the kernel builds an address space by copying the page directory and the
; page table of the heap window, gives it 8 private heap pages, switches CR3 to it, writes and
; reads those pages, switches back and tears it down (its frames are freed). Page k of round r
; holds r × 8 + k; the result is the sum read: 0 + 1 + … + 511.
%include "lib/kernel.inc"
ROUNDS equ 64
workload_name: db "forkwait", 0
kernel_main:
        xor ebx, ebx                ; the sum
        xor ebp, ebp                ; the round
.round: push dword [next_frame]     ; teardown frees everything allocated from here
        call alloc_frame            ; the new page directory: a copy of the kernel's
        mov edi, eax
        push eax
        mov esi, PD
        mov ecx, 1024
        rep movsd
        call alloc_frame            ; the heap window's page table: a copy, then private pages
        mov edi, eax
        push eax
        mov esi, PT + 0x1000
        mov ecx, 1024
        rep movsd
        pop edi                     ; the new page table
        xor ecx, ecx
.page:  call alloc_frame
        or eax, 7
        mov [edi + ecx * 4], eax
        inc ecx
        cmp ecx, 8
        jb .page
        pop eax                     ; the new page directory
        or edi, 7
        mov [eax + 4], edi          ; PDE 1: 4–8 MiB, the heap window
        mov cr3, eax                ; switch
        xor ecx, ecx
.touch: mov eax, ebp
        shl eax, 3
        add eax, ecx
        mov edx, ecx
        shl edx, 12
        mov [HEAP + edx], eax
        add ebx, [HEAP + edx]
        inc ecx
        cmp ecx, 8
        jb .touch
        mov eax, PD                 ; back to the kernel's address space
        mov cr3, eax
        pop dword [next_frame]      ; tear down
        inc ebp
        cmp ebp, ROUNDS
        jb .round
        jmp exit_with_result

user_start:
user_end:
