"""LRM Lab: an interactive lab for inference-time compute on language models."""

__version__ = "0.1.0"
