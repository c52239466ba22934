"""The pure core: catalogue model, SLA and indicator maths, state machines.

Nothing in this package does network or database I/O, reads the clock, or imports
an adapter (probes, scheduler, store, web) or an exporter. Time is passed in.
"""
