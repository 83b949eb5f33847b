; probe-mov-ss-mem: MOV m16, SS shows the real RPL (1) of the stack selector.
%include "probe.inc"
        mov word [buffer], ss
        probe_end
