; syscall: 10,000 system-call round trips (INT 0x80 from ring 3 through the TSS stack, IRET
; back); the result is the kernel's count of them (SYS_COUNT).
%include "lib/kernel.inc"
ROUNDS equ 10000
workload_name: db "syscall", 0
kernel_main:
        start_user

align 4096
user_start:
user_main:
        mov ecx, ROUNDS
.call:  mov eax, SYS_NOP
        int 0x80
        loop .call
        mov eax, SYS_COUNT
        int 0x80
        mov ebx, eax
        mov eax, SYS_EXIT
        int 0x80
user_end:
