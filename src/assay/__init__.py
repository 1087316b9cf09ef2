"""assay: an open, self-hostable data engine for human and AI feedback."""

__version__ = "0.1.0"
__all__ = ["__version__"]
