"""The pure Amazon States Language interpreter: no I/O, no clock, no randomness, no threads, no logging."""
