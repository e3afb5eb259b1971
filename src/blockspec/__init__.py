"""blockspec: a compiler for imaging-network architectures."""

__version__ = "0.1.0"
