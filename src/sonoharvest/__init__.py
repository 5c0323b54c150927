"""sonoharvest: a living catalogue of public ultrasound datasets and models."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
