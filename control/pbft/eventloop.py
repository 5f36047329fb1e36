"""Which asyncio event loop a replica process runs on.

Use case: ``runner.main`` runs a replica with ``run(serve(...))``; the bench's A/B sets
``UQO_EVENT_LOOP=asyncio`` to measure the same replicas on the standard loop.

``UQO_EVENT_LOOP``:
  * unset or ``auto``: uvloop where it is installed (a runtime dependency except on Windows),
    else the standard loop; a replica spends most of its CPU in the loop's socket, TLS and
    callback plumbing, which uvloop does in C (docs/pbft.md, Numbers);
  * ``uvloop``: uvloop, or an error naming the missing package;
  * ``asyncio``: the standard library's loop.
Any other value is refused with a message naming it.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

ENV = "UQO_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory(choice: str | None = None) -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """(name of the loop chosen, factory for ``asyncio.Runner``; None = the standard loop)."""
    choice = (os.environ.get(ENV, "auto") if choice is None else choice).strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENV}={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "asyncio":
        return "asyncio", None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError(f"{ENV}=uvloop but the uvloop package is not installed") from None
        return "asyncio", None
    return "uvloop", uvloop.new_event_loop


def run(main: Coroutine[Any, Any, Any], choice: str | None = None) -> Any:
    """``asyncio.run(main)`` on the loop ``loop_factory(choice)`` picks."""
    _, factory = loop_factory(choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
