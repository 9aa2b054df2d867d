"""How a run ends: one AgentStop subclass per ExitStatus, raised anywhere inside a step."""

from __future__ import annotations

from agent.trajectory import ExitStatus


class AgentStop(Exception):
    """Ends a run with `status`; `patch` is set when the run submitted."""

    status: ExitStatus

    def __init__(self, message: str = "", patch: str | None = None) -> None:
        super().__init__(message)
        self.message, self.patch = message, patch


class Submitted(AgentStop):
    status = ExitStatus.submitted


class StepLimitReached(AgentStop):
    status = ExitStatus.step_limit


class CostLimitReached(AgentStop):
    status = ExitStatus.cost_limit


class ContextExhausted(AgentStop):
    status = ExitStatus.context_overflow


class TooManyFormatErrors(AgentStop):
    status = ExitStatus.format_error


class EnvFailed(AgentStop):
    status = ExitStatus.env_error


class PolicyFailed(AgentStop):
    status = ExitStatus.policy_error


class TimeLimitReached(AgentStop):
    status = ExitStatus.timeout


class DiskLimitReached(AgentStop):
    """The commands wrote past container.disk_limit; the run ends with an empty patch (a patch of
    what filled the disk would be as large as the disk)."""

    status = ExitStatus.disk_limit
