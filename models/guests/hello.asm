; Prints a line on COM1 (polling LSR.THRE before each byte) and ends through the debug-exit
; port with the value 42. The smallest guest that talks to a device.
bits 32
org 0x1000
COM1 equ 0x3F8
        mov esi, msg
.next:  lodsb
        test al, al
        jz .done
        mov ah, al
        mov dx, COM1 + 5
.wait:  in al, dx            ; LSR: wait for THRE
        test al, 0x20
        jz .wait
        mov al, ah
        mov dx, COM1
        out dx, al
        jmp .next
.done:  mov dx, 0x501
        mov eax, 42
        out dx, al
        hlt
msg:    db "hello from the guest", 10, 0
