; probe-jmp-far-mem: JMP m16:32 to the guest kernel's code selector with RPL 1, as jmp-far does through memory.
%include "probe.inc"
        mov dword [buffer], .back
        mov word [buffer + 4], 0x09
        jmp far [buffer]
.back:  probe_end
