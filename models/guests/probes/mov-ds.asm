; probe-mov-ds: loading segment registers with the RPL the guest kernel uses (0) works at ring 1: the real GDT mirrors the guest's and SS loads from RPL 0 trap. (With RPL 1 they diverge: the mov-sreg-rpl1 and pop-* probes.)
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
