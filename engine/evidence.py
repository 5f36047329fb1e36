"""What each observation of an agent tells about its two factors (docs/model.md).

An agent's belief is its liveness (``|1>`` = up, a site of its failure-domain cell) and its
reliability (``|1>`` = completes tasks with probability ``s1``; ``|0>``: with ``s0``), two
qubits. Every observation is a measurement whose effect is diagonal on each factor:

===============  =================================  =================================
observation      liveness effect ``diag(dead, up)``  reliability effect
===============  =================================  =================================
heartbeat        ``(e, 1 - e)``                     none
silence          ``(1, l^k)`` (``k`` heartbeats     none
                 missed, ``l`` the agent's loss)
detected down    ``(1, 0)`` (projective)            none
success          ``(0, 1)`` (it answered: up)       ``(s0, s1)``
failure          ``(0, 1)`` (it answered: up)       ``(1 - s0, 1 - s1)``
timeout          ``(1, t)`` (no answer)             none
===============  =================================  =================================

(``e``: a heartbeat's false-alive rate; ``t``: the chance a live agent fails to answer in
time.) A timeout is evidence of being down, never of being unreliable: that separation is what
one qubit could not keep. A success or a reported failure proves the agent was up, so its
liveness is projected on ``|1>``; through the joint state of a pair that also tells about the
partner.

Use cases::

    m0, m1 = liveness_kraus("timeout", params)            # Kraus diag(m0, m1) = sqrt(effect)
    gain = probe_gain(p_alive, p_rel, s0, s1)             # expected entropy reduction, nats
"""

from __future__ import annotations

import math

import numpy as np

KINDS = ("heartbeat", "silence", "down", "success", "failure", "timeout")


def liveness_effect(kind: str, heartbeat_error: float, timeout_alive: float,
                    silence: float = 1.0) -> tuple[float, float]:
    """``(effect on |0> = down, effect on |1> = up)`` of one observation (table above);
    ``silence`` is ``l^k`` for the silence kind."""
    table = {"heartbeat": (heartbeat_error, 1.0 - heartbeat_error), "silence": (1.0, silence),
             "down": (1.0, 0.0), "success": (0.0, 1.0), "failure": (0.0, 1.0),
             "timeout": (1.0, timeout_alive)}
    if kind not in table:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return table[kind]


def liveness_kraus(kind: str, heartbeat_error: float, timeout_alive: float,
                   silence: float = 1.0) -> tuple[float, float]:
    """The Kraus operator ``diag(m0, m1) = sqrt(effect)`` the register applies."""
    e0, e1 = liveness_effect(kind, heartbeat_error, timeout_alive, silence)
    return math.sqrt(e0), math.sqrt(e1)


def _entropy_terms(p):
    p = np.clip(np.asarray(p, np.float64), 0.0, 1.0)
    return np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)


def _h(p):
    return _entropy_terms(p) + _entropy_terms(1.0 - np.asarray(p, np.float64))


def probe_gain(p_alive, p_rel, s0: float, s1: float):
    """Expected entropy reduction (nats) of an agent's belief from one health check, for beliefs
    diagonal in the up/down and reliable/unreliable bases (every map of the model keeps them
    so): the mutual information between the probe's outcome (no answer, healthy, unhealthy)
    and the agent's state (down, up and reliable, up and unreliable)::

        I = H(1 - a, a s, a (1 - s)) - a (r h(s1) + (1 - r) h(s0)),  s = s0 + (s1 - s0) r

    with ``a = p_alive``, ``r = p_rel`` and ``h`` the binary entropy. A down agent never
    answers (no uncertainty left once its state is known); a live one passes with ``s1`` or
    ``s0``."""
    a = np.asarray(p_alive, np.float64)
    r = np.asarray(p_rel, np.float64)
    s = s0 + (s1 - s0) * r
    outcome = _entropy_terms(1 - a) + _entropy_terms(a * s) + _entropy_terms(a * (1 - s))
    return outcome - a * (r * _h(s1) + (1 - r) * _h(s0))
