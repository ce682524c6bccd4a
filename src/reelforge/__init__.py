"""reelforge: open, self-hostable text-to-video with synchronized audio."""

__version__ = "0.1.0"
