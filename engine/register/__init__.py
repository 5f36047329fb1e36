"""The agent register: one belief state per agent, held as a structure of arrays on a backend.

Use cases::

    from uqo.engine.register import AgentRegister
    reg = AgentRegister(capacity=1_000_000)          # best backend, complex64
    ids = reg.add_pairs(400_000)                     # agents 2i, 2i+1 share a failure domain
    reg.heartbeat(ids[:10])                          # seen alive: readiness rises
    reg.record_outcome(ids[:5], [1, 1, -1, 0.5, 1])  # applied at the next tick
    report = reg.tick(1.0)                           # one batched step, diagnostics included

``AgentRegister`` (``agent_register.py``) is a thin facade; each job belongs to one part, which
owns that job's state:

================  =====================  ====================================================
part              module                 job and state
================  =====================  ====================================================
``Books``         ``books.py``           slots and seats: agent <-> cell and site, last seen,
                                         pair rates (host numpy)
``Placement``     ``placement.py``       sharded placement: the device mesh, which block's
                                         rows each new cell takes, the tick's extent
``CellArrays``    ``cells.py``           the cell states and entropies on the backend, moved
                                         by a store (``storage.py``, ``jax_storage.py``)
``Observations``  ``observations.py``    the queue of heartbeats and failures (Lueders
                                         rounds) and the summed rewards
``Stepper``       ``stepping.py``        the tick: model time, channel strengths, the store's
                                         batched tick, the last ``TickReport``
``Diagnostics``   ``diagnostics.py``     per-agent readiness, entropy, MI, concurrence; the
                                         fleet aggregates
================  =====================  ====================================================

Storage (physical meaning lives in ``uqo.engine.tick``; the register keeps books): pair cells
``(P + 1, 4, 4)`` and single cells ``(S + 1, 2, 2)`` on the backend (the last row of each is a
scratch cell used as padding), per-cell entropies on the backend, and host numpy arrays for the
agent <-> cell maps, staleness clocks and the per-agent diagnostics of the last tick. Slots are
stable: an agent id is an index in ``[0, capacity)`` until it is removed.

Observations (heartbeats, failures) are queued and applied in arrival order before the next
tick or the next read of a diagnostic, in one batched scatter per round (round k applies the
k-th event of every cell), so a burst of heartbeats costs one device update, not one each.

Sharding (JAX, ``shards``; docs/gpu.md): the cell arrays are split over a 1-D mesh of devices,
each new cell on the block of its key's consistent-hash partition (``placement.py``);
``shard_of`` says where each agent is. The tick runs on every row (each device its block);
results equal the one-device register's.

Several hosts (``shards="global"`` after ``jax.distributed.initialize``), in JAX's
multi-controller (SPMD) style: every process builds the same register and makes the same calls
in the same order, reads included (a read may flush queued observations to the devices). In
uqo that order is the replicated command log's, which every replica applies in log order
anyway. The host books (ids, cells, rates, per-agent diagnostics) are then identical in every
process; the cell arrays are global ``jax.Array``s over the devices of all processes, each
process holding only its own devices' blocks. The tick's per-cell diagnostics and the cells an
observation or ``cell_state`` reads are gathered to every process inside the jitted programs
(collectives: a process that skips a call leaves the others waiting).
"""

from .agent_register import AgentRegister
from .diagnostics import TickReport
from .storage import Store

__all__ = ["AgentRegister", "Store", "TickReport"]
