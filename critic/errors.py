"""The critic's errors, apart from the configs and clients so that model code needs no pydantic and
`eval.cli` can name them without loading httpx or torch."""

from __future__ import annotations


class CriticSetupError(ValueError):
    """A config, input or output folder that `critic train|serve` cannot start from (fix the command)."""


class CriticUnavailable(ConnectionError):
    """The critic (a server named by --critic, or a checkpoint) cannot be reached or loaded."""
