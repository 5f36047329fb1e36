"""Several hosts: two real processes joined by ``jax.distributed`` (2 host CPU devices each, a
global mesh of 4) run the sharded pair tick, each process passing only its own blocks; each
checks its local shards and the global aggregates against a one-device tick of the same cells.
Cross-process reductions on CPU go through gloo (``jax_cpu_collectives_implementation``)."""

from __future__ import annotations

import textwrap

import pytest

from ._distributed import run_workers

WORKER = textwrap.dedent("""
    import math, sys
    import numpy as np, jax
    pid, port = int(sys.argv[1]), sys.argv[2]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                               process_id=pid, initialization_timeout=60)
    from uqo.kernels import jax_tick as jt
    from uqo.kernels.sharding import cell_mesh, cell_sharding, partition_layout, sharded_tick_pairs
    from uqo.kernels.tick_inputs import PairInputs
    assert jax.process_count() == 2 and len(jax.devices()) == 4, jax.devices()
    assert len(jax.local_devices()) == 2

    rng = np.random.default_rng(7)                       # the same global cells in both processes
    n = 300
    a = rng.normal(size=(n, 4, 4)) + 1j * rng.normal(size=(n, 4, 4))
    rho = a @ a.conj().transpose(0, 2, 1)
    rho = (rho / np.trace(rho, axis1=1, axis2=2).real[:, None, None]).astype(np.complex64)
    params = [rng.uniform(0, .2, n).astype(np.float32) for _ in range(7)]
    params += [rng.uniform(-1, 1, n).astype(np.float32) for _ in range(2)]
    s = rng.uniform(0, 1, n)
    order, block = partition_layout(rng.integers(0, 4, n), 4)   # device k <- partition k
    live = order >= 0
    idx = np.maximum(order, 0)                           # padding rows: copies of cell 0

    mesh = cell_mesh()
    mine = np.concatenate([np.arange(k * block, (k + 1) * block)
                           for k, d in enumerate(mesh.devices) if d.process_index == pid])

    def local(x):                                        # this process's blocks only
        x = np.asarray(x)[idx] if x.shape[0] == n else np.asarray(x)
        return jax.make_array_from_process_local_data(cell_sharding(mesh, x.ndim), x[mine],
                                                      x.shape)

    inputs = PairInputs(*params, coupling_dt=0.05, theta0=math.pi / 4)
    got_rho, got, agg = sharded_tick_pairs(mesh)(
        local(rho), local(s), inputs.map_cells(local), live=local(live))
    assert not got_rho.is_fully_addressable and len(got_rho.sharding.device_set) == 4

    dev = jax.local_devices()[0]                         # the reference: one device, no mesh
    want_rho, want = jax.jit(jt.tick_pairs)(
        *[jax.device_put(x, dev) for x in [rho, s]],
        inputs.map_cells(lambda x: jax.device_put(x, dev)))
    want_rho, want = np.asarray(want_rho), {k: np.asarray(v) for k, v in want.items()}
    checked = 0
    for shard in got_rho.addressable_shards:
        rows = np.arange(got_rho.shape[0])[shard.index[0]]
        keep = live[rows]
        cells = order[rows][keep]
        err = np.abs(np.asarray(shard.data)[keep] - want_rho[cells]).max()
        assert err < 1e-6, (pid, shard.device, err)
        checked += len(cells)
    for key, arr in got.items():
        for shard in arr.addressable_shards:
            rows = np.arange(arr.shape[0])[shard.index[0]]
            keep = live[rows]
            err = np.abs(np.asarray(shard.data)[keep] - want[key][order[rows][keep]]).max()
            assert err < 1e-9, (key, err)
    value = {k: float(v.addressable_data(0)) for k, v in agg.items()}
    assert value["cells"] == n, value
    assert abs(value["global_coherence"] - want["npurity"].mean()) < 1e-9, value
    assert abs(value["leakage"] - want["leak"].sum()) < 1e-9, value
    print(f"DIST-OK process {pid} checked {checked} cells on {len(mine) // block} devices; "
          f"aggregates {value}", flush=True)
    jax.distributed.shutdown()
""")


@pytest.mark.timeout(240)
def test_two_processes_tick_their_shards_like_one_device(tmp_path):
    out = run_workers(lambda pid, port: ["-c", WORKER, str(pid), port], tmp_path)
    for i, text in enumerate(out):
        assert f"DIST-OK process {i} checked" in text, text[-2000:]
