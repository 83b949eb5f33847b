; pgfault: ring 3 touches 256 pages of the heap window, which start not present; the kernel's
; #PF handler maps a zeroed frame for each (demand zero) and resumes the access. Each page gets
; its number written at offset 4 × number; the result is the sum of what is read back
; (0 + 1 + … + 255). The faults show as `exceptions.delivered` (256).
%include "lib/kernel.inc"
PAGES equ 256
workload_name: db "pgfault", 0
kernel_main:
        mov dword [exception_handlers + 14 * 4], page_fault
        start_user

page_fault:
        mov eax, cr2
        cmp eax, HEAP
        jb .bad
        cmp eax, HEAP_END
        jae .bad
        and eax, ~0xFFF
        push eax
        call alloc_frame
        mov edx, eax
        pop eax
        mov ecx, 7
        call map_page
        ret
.bad:   mov ebx, 0xBAD              ; a fault outside the heap window
        jmp exit_with_result

align 4096
user_start:
user_main:
        xor ecx, ecx
.write: mov eax, ecx
        shl eax, 12
        mov [HEAP + eax + ecx * 4], ecx
        inc ecx
        cmp ecx, PAGES
        jb .write
        xor ecx, ecx
        xor ebx, ebx
.read:  mov eax, ecx
        shl eax, 12
        add ebx, [HEAP + eax + ecx * 4]
        inc ecx
        cmp ecx, PAGES
        jb .read
        mov eax, SYS_EXIT
        int 0x80
user_end:
