; probe-mov-ds: Loading a data segment register at ring 1 reads the real (compressed) descriptor; the guest sees the cache its own GDT gives: nothing shows.
%include "probe.inc"
        mov ax, 0x10
        mov ds, ax
        mov es, word [buffer + 8]
        push ds
        pop fs
        mov word [buffer], 0x10
        mov gs, word [buffer]
        mov ss, ax
        push dword 0x10
        pop ss
        probe_end
