; probe-lsl-reg: LSL reads the real limit, truncated below the monitor.
%include "probe.inc"
        mov ecx, 0x10
        lsl eax, ecx
        probe_end
