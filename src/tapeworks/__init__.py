"""tapeworks: transcripts and publish-ready audio from recorded conversations."""

__version__ = "0.1.0"
