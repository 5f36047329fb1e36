"""Spans for signatures: how long each signing operation (on the HSM or in software) took.

Use case (inside a ``Signer``)::

    def sign(self, data: bytes) -> bytes:
        with sign_span("pkcs11", self.algorithm, self.key_id):
            ...

OpenTelemetry's API only: the span does nothing until the process installs a provider (``uqo
serve --otlp-endpoint``; docs/tracing.md). The span carries the backend, algorithm and key id,
never the data or the signature. This package stays apart from ``uqo.control``: the API is
all it shares with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

_TRACER = trace.get_tracer("uqo.security")   # a proxy, like logging.getLogger: no state of ours


@contextmanager
def sign_span(backend: str, algorithm: str, key_id: str) -> Iterator[None]:
    """``keys.sign`` span around one signature (an exception marks it an error)."""
    with _TRACER.start_as_current_span("keys.sign", attributes={
            "uqo.keys.backend": backend, "uqo.keys.algorithm": algorithm,
            "uqo.keys.key_id": key_id}):
        yield
