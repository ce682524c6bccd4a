"""Cameos: a verified likeness that its owner controls (docs/CAMEOS.md)."""
