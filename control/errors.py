"""The one error type of the control plane: what went wrong, in a form a client can act on.

Use cases::

    raise ControlError.not_found("agent", "a-17", field="agent_id")
    raise ControlError("invalid_transition", "task t-1 is completed; cannot cancel", 409,
                       field="task_id")

Every error carries a machine-readable ``code``, a human ``message`` that names the offending
value, the ``field`` it came from (``None`` when no single field is to blame) and the HTTP status
the API answers with. The API serialises it as ``{"error": {"code", "message", "field"}}``,
with a ``Retry-After`` header when ``retry_after_s`` is set (a 503 that will pass).
"""

from __future__ import annotations


class ControlError(Exception):
    """A refused request or command. Raised before anything changed."""

    def __init__(self, code: str, message: str, status: int = 400, field: str | None = None,
                 retry_after_s: int | None = None, *, reason: str | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field
        self.retry_after_s = retry_after_s     # sent as ``Retry-After`` (503: when to retry)
        self.reason = reason                   # on a 403: the policy rule that refused

    def body(self) -> dict:
        """The API error body: ``{"error": {"code": str, "message": str, "field": str|None}}``,
        plus ``"reason"`` (the policy rule) on an authorisation refusal."""
        error = {"code": self.code, "message": self.message, "field": self.field}
        if self.reason is not None:
            error["reason"] = self.reason
        return {"error": error}

    @classmethod
    def not_found(cls, kind: str, ident: str, field: str | None = None) -> ControlError:
        return cls(f"{kind}_not_found", f"unknown {kind} {ident!r}", 404, field)

    @classmethod
    def conflict(cls, code: str, message: str, field: str | None = None) -> ControlError:
        return cls(code, message, 409, field)

    @classmethod
    def invalid(cls, message: str, field: str | None = None) -> ControlError:
        return cls("invalid_request", message, 400, field)

    @classmethod
    def unavailable(cls, message: str, retry_after_s: int = 1) -> ControlError:
        return cls("unavailable", message, 503, None, retry_after_s)

    def __repr__(self) -> str:
        return f"ControlError({self.code!r}, {self.message!r}, {self.status}, field={self.field!r})"
