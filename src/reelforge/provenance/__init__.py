"""Provenance: watermarks (visible, invisible video, audio) and their shared payload code."""
