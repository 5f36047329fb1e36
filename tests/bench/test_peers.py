"""``uqo bench peers``: the uqo side against an independent scipy reference, the closed-form
entropy on known states, and the command without dynamiqs (a skip message, exit 0)."""

from __future__ import annotations

import importlib.util
import json
import math
from functools import partial

import numpy as np
import pytest
import scipy.linalg
from uqo.bench import peers

from uqo.cli import main

DT, STEPS = 0.05, 12


def _reference(h, psi0, dt, steps):
    """complex128: ``scipy.linalg.expm`` per system, ``eigvalsh`` of rho_A each step; (B, T)."""
    u = np.stack([scipy.linalg.expm(-1j * dt * x.astype(np.complex128)) for x in h])
    psi, out = psi0.astype(np.complex128), []
    for _ in range(steps):
        psi = np.einsum("bij,bj->bi", u, psi)
        m = psi.reshape(-1, 2, 2)                      # rows: qubit A, columns: qubit B
        w = np.clip(np.linalg.eigvalsh(m @ np.conj(np.swapaxes(m, 1, 2))), 1e-300, None)
        out.append(-(w * np.log(w)).sum(-1))
    return np.array(out).T


@pytest.mark.parametrize("path", sorted(peers.uqo_paths()))
def test_uqo_paths_match_an_independent_reference(path):
    h, psi0 = peers.workload(6, seed=3)
    want = _reference(h, psi0, DT, STEPS)
    got = np.asarray(peers.uqo_paths()[path](h, psi0, DT, STEPS))
    assert got.shape == (6, STEPS)
    assert np.abs(got - want).max() < 1e-4
    assert want.max() > 0.1                            # the states do get entangled


def test_device_propagator_path_matches_the_reference():
    """The GPU variant (propagator computed on the JAX device in complex128) runs on the CPU
    device here and must agree with the reference like the host-propagator path."""
    pytest.importorskip("jax")
    h, psi0 = peers.workload(6, seed=4)
    path = peers._jax_path(peers._closed_step, components=True, device_propagator=True)
    got = np.asarray(path(h, psi0, DT, STEPS))
    assert np.abs(got - _reference(h, psi0, DT, STEPS)).max() < 1e-4


def test_closed_form_entropy_on_known_states():
    c, s = math.cos(0.3), math.sin(0.3)
    kets = np.array([[1, 0, 0, 0],                     # product |00>: 0
                     [0.5, 0.5, 0.5, 0.5],             # product |++>: 0
                     [2 ** -0.5, 0, 0, 2 ** -0.5],     # Bell: ln 2
                     [c, 0, 0, s]], np.complex64)      # Schmidt weights c^2, s^2
    got = peers.closed_form_entropy(list(kets.T), np)
    want = [0, 0, math.log(2), -(c * c * math.log(c * c) + s * s * math.log(s * s))]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_verify_passes_fails_or_records_the_engine_error_per_path():
    h, psi0 = peers.workload(6, seed=3)
    want = _reference(h, psi0, DT, STEPS)
    runs = {"dynamiqs total": ("reference", lambda: want),
            "uqo closed form (numpy)": ("", partial(peers.closed_numpy, h, psi0, DT, STEPS)),
            "uqo wrong dt": ("", partial(peers.closed_numpy, h, psi0, 2 * DT, STEPS)),
            "uqo engine (numpy)": ("", partial(peers.engine_numpy, h, 1.1 * psi0, DT, STEPS))}
    checks = {c["path"]: c for c in peers.verify(runs, STEPS)}
    assert checks["uqo closed form (numpy)"]["status"] == "pass"
    assert checks["uqo wrong dt"]["status"] == "FAIL"
    assert checks["uqo wrong dt"]["max_abs_diff_vs_dynamiqs"] > 1e-2
    assert checks["uqo engine (numpy)"]["status"] == "error"
    assert "not normalised" in checks["uqo engine (numpy)"]["error"]


def test_tolerance_is_1e_4_up_to_200_steps_then_grows():
    assert peers.tolerance(100) == peers.tolerance(200) == 1e-4
    assert peers.tolerance(1000) == pytest.approx(5e-4)


def test_command_without_dynamiqs_prints_a_skip_message_and_exits_0(tmp_path, capsys):
    rc = main(["bench", "peers", "--systems", "16", "--steps", "4", "--repeats", "1",
               "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    if importlib.util.find_spec("dynamiqs") is None:   # the project's own venv
        assert "uqo bench peers: skipped: dynamiqs is not installed" in out
        assert not any(tmp_path.iterdir())
    else:                                              # a venv with the optional extra
        (path,) = tmp_path.glob("peers-*.json")
        doc = json.loads(path.read_text())
        assert doc["status"] == "pass" and len(doc["results"]) == 3 + len(doc["checks"])
        assert "system-steps/s" in out


def test_bad_systems_exits_2_naming_the_value(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "peers", "--systems", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "argument --systems: must be at least 1, got '0'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
