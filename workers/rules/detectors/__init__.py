"""Detectors: pure, I/O-free condition checks with explicit, serializable state."""
