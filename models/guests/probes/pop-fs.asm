; probe-pop-fs: POP FS with RPL 1, likewise.
%include "probe.inc"
        push dword 0x11
        pop fs
        probe_end
