"""The ``retiarii`` command line: thin subcommands over the public API."""

from __future__ import annotations

from .main import main

__all__ = ["main"]
