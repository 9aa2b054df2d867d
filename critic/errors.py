"""The critic's setup error, apart from the configs so that model code needs no pydantic."""

from __future__ import annotations


class CriticSetupError(ValueError):
    """A config, input or output folder that `critic train|serve` cannot start from (fix the command)."""
