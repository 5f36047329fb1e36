"""The reliability factor of ``AgentRegister``, read and set: per-slot ``P(reliable)``, its
entropy, the success probability of both factors, the heartbeat-loss estimates and one agent's
reliability qubit. A mixin (kept apart so the register class stays small); it reads
``_rel``, ``_books``, ``params``, ``active``, ``capacity``, ``dtype`` and ``readiness()``.
"""

from __future__ import annotations

import dataclasses

import numpy as np


class ReliabilityReads:
    """Reliability-factor accessors of ``AgentRegister``."""

    def reliability(self) -> np.ndarray:
        """``P(reliable) = <1|rho_R|1>`` per slot, float32 ``(capacity,)``; 0 for free slots."""
        self._rel.flush()
        return np.where(self.active, self._rel.ready, np.float32(0))

    def reliability_entropy(self) -> np.ndarray:
        """Entropy (nats) of each agent's reliability qubit, float32; 0 for free slots."""
        self._rel.flush()
        return np.where(self.active, self._rel.entropy, np.float32(0))

    def success_probability(self) -> np.ndarray:
        """``P(up) (s0 + (s1 - s0) P(reliable))`` per slot: the chance a task given now
        succeeds; 0 for free slots."""
        s0, s1 = self.params.success_unreliable, self.params.success_reliable
        return self.readiness() * (s0 + (s1 - s0) * self.reliability())

    def set_reliability_model(self, success_unreliable: float, success_reliable: float,
                              reliability_drift: float | None = None) -> None:
        """Replace the reliability factor's emission probabilities ``s0``, ``s1`` (and the
        drift rate ``nu``) while running: the scheduler learns them online from outcomes
        (``uqo.control.scheduler.emissions``). Outcomes already queued keep the effects they
        were queued with; later outcomes, ticks and reads use the new values. Invalid values
        raise ``ValueError`` and change nothing."""
        changes = {"success_unreliable": float(success_unreliable),
                   "success_reliable": float(success_reliable)}
        if reliability_drift is not None:
            changes["reliability_drift"] = float(reliability_drift)
        params = dataclasses.replace(self.params, **changes)
        params.validate()
        self.params = params
        self._obs._params = params
        self._stepper._params = params
        self._rel.s0, self._rel.s1 = params.success_unreliable, params.success_reliable

    def heartbeat_loss(self) -> np.ndarray:
        """Each slot's estimated heartbeat loss (the prior where none was counted)."""
        prm = self.params
        return self._books.heartbeat_loss(np.arange(self.capacity), prm.heartbeat_loss,
                                          prm.loss_strength)

    def reliability_state(self, agent: int) -> np.ndarray:
        """Host copy of ``agent``'s reliability qubit (2x2)."""
        a = int(self._books.check_ids([agent])[0])
        return self._rel.state(a)

    def set_reliability_state(self, agent: int, rho) -> None:
        """Overwrite ``agent``'s reliability qubit (tests, restores). Validated."""
        a = int(self._books.check_ids([agent])[0])
        rho = np.asarray(rho, dtype=self.dtype)
        if rho.shape != (2, 2):
            raise ValueError(f"rho must have shape (2, 2), got {rho.shape}")
        if not np.allclose(rho, rho.conj().T, atol=1e-6) or abs(np.trace(rho) - 1) > 1e-5:
            raise ValueError("rho must be Hermitian with unit trace")
        self._rel.set_state(a, rho)
