; probe-rdtsc: RDTSC reads the TSC, which the monitor does not virtualize here: the clock is the guest's retired instructions on both machines, so nothing shows.
%include "probe.inc"
        rdtsc
        probe_end
