"""Detectors and metrics that read only decoded media (frames and samples)."""
