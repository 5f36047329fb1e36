"""Tuned model parameters on disk: what ``uqo tune`` writes and ``uqo serve`` loads at start.

Use cases::

    save_params(path, {"hazard": 2e-4, ...}, meta={"trained_on": "trace.npz"})
    params = load_params(path, heartbeat_period=5.0)     # a validated TickParams
    params = load_params(None)                           # belief_defaults()

The file is JSON: ``{"format": "uqo-belief-params", "version": 1, "params": {name: value},
"meta": {...}}``. Names are ``TickParams`` fields; an unknown name or a value the model cannot
use is an error naming the file and the field, so a typo never silently falls back to a
default.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .tick import TickParams

FORMAT, VERSION = "uqo-belief-params", 1


def belief_defaults(heartbeat_period: float = 5.0) -> TickParams:
    """The two-factor model as the scheduler runs it (docs/model.md), before any tuning:
    ``TickParams``' defaults except a heartbeat that is near-certain proof of life
    (``heartbeat_error`` 1e-5: a message from the agent; one heartbeat brings an agent that
    was declared down a second ago back above 0.9), a lone failure rate of one an hour
    until the fleet's own is learned, silence measured against the agents' ``heartbeat_period``,
    no extra damping past a fixed deadline (the silence measurement replaces it) and a slow
    depolarising staleness (``lambda0`` 0.001/s, ``lambda1`` 0): how fast an unheard agent may
    have gone down is the learned hazard and pair rate, and each missed heartbeat is measured;
    the old drift toward 1/2 (0.01/s, growing with silence) made one lost heartbeat read as
    "probably down" and the failure forecast worse than the fleet's base rate. The little that
    is left is the way back up: an agent projected on down recovers only through it."""
    return TickParams(heartbeat_error=1e-5, hazard=1.0 / 3600.0, mu=0.0, lambda0=0.001,
                      lambda1=0.0, heartbeat_period=float(heartbeat_period))


def _fields() -> set[str]:
    return {f.name for f in dataclasses.fields(TickParams)} - {"extra"}


def load_params(path=None, heartbeat_period: float | None = None) -> TickParams:
    """``TickParams`` from a params file over ``belief_defaults`` (``None``: the defaults),
    with the heartbeat period set when given (the agents' configured period is a fact, not
    something to tune)."""
    values: dict = {}
    if path is not None:
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read model params {str(path)!r}: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or \
                doc.get("version") != VERSION or not isinstance(doc.get("params"), dict):
            raise ValueError(f"model params {str(path)!r}: not a {FORMAT} v{VERSION} file")
        values = doc["params"]
        unknown = sorted(set(values) - _fields())
        if unknown:
            raise ValueError(f"model params {str(path)!r}: unknown field {unknown[0]!r}")
        bad = [k for k, v in values.items()
               if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            raise ValueError(f"model params {str(path)!r}: field {bad[0]!r} must be a number, "
                             f"got {values[bad[0]]!r}")
    if heartbeat_period is not None:
        values = {**values, "heartbeat_period": float(heartbeat_period)}
    params = dataclasses.replace(belief_defaults(), **values)
    try:
        params.validate()
    except ValueError as exc:
        raise ValueError(f"model params {str(path)!r}: {exc}") from None
    return params


def save_params(path, params: dict, meta: dict | None = None) -> Path:
    """Write ``params`` (TickParams field -> number) after checking they load."""
    unknown = sorted(set(params) - _fields())
    if unknown:
        raise ValueError(f"unknown TickParams field {unknown[0]!r}")
    TickParams(**params).validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION,
                                "params": {k: float(v) for k, v in params.items()},
                                "meta": meta or {}}, indent=2) + "\n")
    return path
