; probe-in: IN and OUT at ring 1 with IOPL 0 trap (the monitor's TSS has no I/O bitmap) and are emulated: nothing shows.
%include "probe.inc"
        mov dx, 0x3FD
        in al, dx
        in eax, dx
        in al, 0xFD
        mov dx, 0x3FF
        out dx, al
        out dx, eax
        out 0xFF, al
        mov esi, buffer
        mov edi, buffer
        outsb
        insb
        outsd
        insd
        probe_end
