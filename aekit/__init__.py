"""aekit: autoencoders as practical tools."""

__version__ = "0.1.0"
