"""fabricx's version, importable without importing the package's Python API."""

__version__ = "0.1.0"
