"""rse: an enterprise social network in the terminal (client package)."""

__version__ = "0.1.0"
