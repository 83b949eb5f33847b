; probe-call-far-mem: CALL m16:32 to the guest kernel's own code selector, as call-far does through memory.
%include "probe.inc"
        mov dword [buffer], .there
        mov word [buffer + 4], 0x08
        call far [buffer]
.there: pop eax
        pop ebx
        probe_end
