; probe-iret: IRETD at ring 1 to ring 3 with IF = 1 in its frame leaves the real IF alone
; (CPL 1 > IOPL 0), so the guest's IF stays 0 without the monitor seeing it.
%include "probe.inc"
        lgdt [gdtr]
        push dword 0x23             ; SS: ring-3 data
        push dword 0x80000          ; ESP
        push dword 0x202            ; EFLAGS: IF
        push dword 0x1B             ; CS: ring-3 code
        push dword user
        iretd
user:   jmp user                    ; ring 3 cannot reach the debug-exit port: the budget ends it
align 8
gdt:    dq 0
        dq 0x00CF9B000000FFFF       ; 0x08 ring-0 code
        dq 0x00CF93000000FFFF       ; 0x10 ring-0 data
        dq 0x00CFFA000000FFFF       ; 0x18 ring-3 code
        dq 0x00CFF2000000FFFF       ; 0x20 ring-3 data
gdtr:   dw gdtr - gdt - 1
        dd gdt
