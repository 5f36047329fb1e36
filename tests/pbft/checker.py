"""Safety invariants of replicated execution, checked as each replica executes.

Use cases::

    chk = Checker()
    chk.issued(body)                                  # a correct client created this request
    chk.on_seq(node, seq, bodies)                     # a correct replica executes seq
    chk.on_request(node, index, body, result)         # ... and the index-th request in it
    chk.on_install(node, seq, index, chain)           # ... or installs a transferred state
    chk.on_accept(client, ts, result)                 # a client accepted a result

Invariants (any violation raises ``Violation`` at once, naming the replica and the step):

* agreement: no two correct replicas execute different request lists at one sequence
  number, nor different requests at one position of the application's history (this also
  covers a replica re-executing after a restart);
* total order: each correct replica executes sequence numbers consecutively (a state
  transfer jumps to a certified checkpoint) and its application history is a prefix of the
  one common history (checked through the hash chain at each position);
* validity: only requests that a correct client signed are executed, and each at most once
  (a client's timestamps strictly increase in every replica's execution);
* client safety: a result accepted by a client (f+1 matching replies) is the one correct
  replicas computed.
"""

from __future__ import annotations

import hashlib

GENESIS_CHAIN = b"\x00" * 32


class Violation(AssertionError):
    pass


def chain_step(chain: bytes, body: bytes) -> bytes:
    return hashlib.sha256(chain + body).digest()


class Checker:
    def __init__(self):
        self.history: list[bytes] = []           # position k-1 -> request body
        self.chains: list[bytes] = [GENESIS_CHAIN]
        self.by_seq: dict[int, bytes] = {}
        self.results: dict[tuple[str, int], bytes] = {}
        self._issued: set[bytes] = set()
        self.steps = 0
        self.executions = 0

    def issued(self, body: bytes) -> None:
        self._issued.add(body)

    def on_seq(self, node, seq: int, bodies: list[bytes]) -> None:
        self.steps += 1
        if seq != node.expect_seq:
            raise Violation(f"total order: replica {node.name} executed seq {seq}, expected "
                            f"{node.expect_seq}")
        node.expect_seq = seq + 1
        digest = hashlib.sha256(b"".join(len(b).to_bytes(4, "big") + b for b in bodies))\
            .digest()
        prev = self.by_seq.setdefault(seq, digest)
        if prev != digest:
            raise Violation(f"agreement: replica {node.name} executed a different batch at "
                            f"seq {seq}")

    def on_request(self, node, index: int, client: str, ts: int, body: bytes,
                   result: bytes) -> None:
        self.executions += 1
        if body not in self._issued:
            raise Violation(f"validity: replica {node.name} executed a request no correct "
                            f"client issued (client {client!r}, timestamp {ts})")
        if node.client_last.get(client, 0) >= ts:
            raise Violation(f"at-most-once: replica {node.name} executed {client!r} "
                            f"timestamp {ts} after {node.client_last[client]}")
        node.client_last[client] = ts
        if index <= len(self.history):
            if self.history[index - 1] != body:
                raise Violation(f"agreement: replica {node.name} executed a different "
                                f"request at history position {index}")
        elif index == len(self.history) + 1:
            self.history.append(body)
            self.chains.append(chain_step(self.chains[-1], body))
        else:
            raise Violation(f"total order: replica {node.name} skipped to history position "
                            f"{index} (common history has {len(self.history)})")
        if result != self.chains[index]:
            raise Violation(f"agreement: replica {node.name}'s state at position {index} "
                            f"differs from the common history")
        self.results.setdefault((client, ts), result)

    def on_install(self, node, seq: int, index: int, chain: bytes) -> None:
        if index >= len(self.chains) or self.chains[index] != chain:
            raise Violation(f"state transfer: replica {node.name} installed a state at seq "
                            f"{seq} that is not the common history's")
        node.expect_seq = seq + 1

    def on_accept(self, client: str, ts: int, result: bytes) -> None:
        want = self.results.get((client, ts))
        if want != result:
            raise Violation(f"client {client!r} accepted a result for timestamp {ts} that no "
                            f"correct replica computed")
