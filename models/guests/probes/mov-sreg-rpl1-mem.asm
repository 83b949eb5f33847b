; probe-mov-sreg-rpl1-mem: MOV ES from memory with RPL 1, likewise.
%include "probe.inc"
        mov word [buffer], 0x11
        mov es, word [buffer]
        probe_end
