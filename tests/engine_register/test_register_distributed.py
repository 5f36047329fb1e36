"""Several hosts: two real processes joined by ``jax.distributed`` (gloo, 2 host CPU devices
each) drive one register sharded over the 4 global devices (``shards="global"``), every process
making the same calls in the same order. Each compares every tick report, the diagnostics and
the cell states in its own shards with a one-device register it runs itself (1e-6), and checks
it holds exactly its own devices' blocks (``_distributed_register.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..kernels._distributed import run_workers

WORKER = Path(__file__).with_name("_distributed_register.py")


@pytest.mark.timeout(240)
def test_register_over_two_processes_matches_one_device(tmp_path):
    out = run_workers(lambda pid, port: [str(WORKER), str(pid), port], tmp_path)
    counts = []
    for i, text in enumerate(out):
        found = re.search(rf"REGISTER-OK process {i} checked (\d+) of (\d+) cells", text)
        assert found, text[-2000:]
        counts.append((int(found[1]), int(found[2])))
    (mine, total), (theirs, total1) = counts
    assert total == total1 and mine > 0 and theirs > 0
    assert mine + theirs == total, counts              # together the two hold every cell
