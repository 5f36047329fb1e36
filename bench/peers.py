"""``uqo bench peers``: uqo side by side with dynamiqs (JAX quantum dynamics) on one workload.

Workload: ``B`` two-qubit pure states ``psi0`` ``(B, 4)``, each with its own fixed Hermitian
Hamiltonian ``H`` ``(B, 4, 4)`` (random, seeded), evolved for ``T`` exact steps of ``dt``
(propagator ``exp(-i H dt)`` computed once per system) with the entanglement entropy of qubit A
(nats) after every step: entropies ``(B, T)`` at ``t = dt, 2 dt, ..., T dt``. complex64
throughout (dynamiqs' default precision). Every path starts from ``H`` and ``psi0``, so the
propagators are inside every timing.

uqo paths:
* ``engine`` (numpy, and JAX with the whole step loop in one ``jax.jit`` + ``lax.scan``): the
  public ``uqo.engine`` functions ``propagator``, ``apply_unitary``, ``entanglement_entropy``;
* ``closed form`` (numpy, JAX): ``propagator`` from the engine, then the 4x4 step and the
  entropy written out per component (below, ``closed_form_entropy``).
The JAX paths take the propagator from the engine on numpy (why: ``_jax_path``).

dynamiqs: ``dq.sesolve(H, psi0, tsave, method=dq.method.Expm(), cartesian_batching=False)`` on
``tsave = dt * arange(T + 1)``, then ``dq.entropy_vn(dq.ptrace(states, 0, dims=(2, 2)))`` on the
saved states; the solve and the entropy are also timed on their own.

Before timing, every uqo path's entropies must match dynamiqs' within ``tolerance(T)`` (1e-4 up
to 200 steps). Timings: one
warm-up call (JAX compiles there), then the median of ``repeats`` calls, results waited for.
JSON to ``bench/results/peers-<jax backend>.json``.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import time
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np

from .machine import machine_info

DIMS = (2, 2)
TOLERANCE = 1e-4
# float32 round-off of both sides grows about linearly with the steps (measured ~3.5e-7 per step
# against a float64 reference), so above 200 steps the check allows 5e-7 per step.
TOLERANCE_PER_STEP = 5e-7
SKIP_REASON = ("dynamiqs is not installed (pip install 'uqo[peers]'); "
               "the side-by-side comparison needs it")


def peer_missing() -> str | None:
    """None when dynamiqs can be imported here, else why the comparison is skipped."""
    return SKIP_REASON if importlib.util.find_spec("dynamiqs") is None else None


def tolerance(steps: int) -> float:
    """Max abs entropy difference allowed between uqo and dynamiqs after ``steps`` steps."""
    return max(TOLERANCE, TOLERANCE_PER_STEP * steps)


def workload(systems: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(H, psi0)``: Hermitian ``(B, 4, 4)`` (entries ~ N(0, 1)) and unit kets ``(B, 4)``,
    both complex64."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(systems, 4, 4)) + 1j * rng.normal(size=(systems, 4, 4))
    h = (a + np.conj(np.swapaxes(a, -1, -2))) / 2
    psi = rng.normal(size=(systems, 4)) + 1j * rng.normal(size=(systems, 4))
    psi /= np.linalg.norm(psi, axis=-1, keepdims=True)
    return h.astype(np.complex64), psi.astype(np.complex64)


def closed_form_entropy(c, xp):
    """Entanglement entropy (nats) of qubit A for pure kets given by components ``c[0..3]``
    (each ``(B,)``) of ``a|00> + b|01> + c|10> + d|11>``.

    Written out by hand rather than through an eigensolver: for a pure two-qubit state
    ``det(rho_A) = |ad - bc|^2`` and the eigenvalues are ``(1 +- sqrt(1 - 4 det)) / 2``, which is
    6-10x cheaper than a batched 2x2 ``eigvalsh``/``svd``. The small eigenvalue is taken as
    ``det / large`` so it keeps its relative precision (no cancellation in ``1 - sqrt``).
    """
    det = xp.abs(c[0] * c[3] - c[1] * c[2]) ** 2
    large = (1 + xp.sqrt(xp.clip(1 - 4 * det, 0.0, None))) / 2
    small = det / large
    safe = xp.where(small > 0, small, 1.0)
    return -(large * xp.log(large) + xp.where(small > 0, small * xp.log(safe), 0.0))


def engine_numpy(h, psi0, dt: float, steps: int) -> np.ndarray:
    """The public engine functions called per step on numpy; entropies ``(B, T)``."""
    from uqo.engine import apply_unitary, entanglement_entropy, propagator

    u = propagator(h, dt)
    psi, out = psi0, np.empty((steps, len(psi0)), np.float32)
    for k in range(steps):
        psi = apply_unitary(psi, u)
        out[k] = entanglement_entropy(psi, DIMS)
    return out.T


def closed_numpy(h, psi0, dt: float, steps: int) -> np.ndarray:
    """Engine propagator, then the step and entropy per component on ``(4, B)`` arrays (one
    contiguous array per amplitude: ~4x faster in numpy than a batched ``matmul`` of 4x4s)."""
    from uqo.engine import propagator

    u = np.ascontiguousarray(np.moveaxis(propagator(h, dt), 0, -1))    # (4, 4, B)
    c = list(np.ascontiguousarray(psi0.T))
    out = np.empty((steps, len(psi0)), np.float32)
    for k in range(steps):
        c = [u[i, 0] * c[0] + u[i, 1] * c[1] + u[i, 2] * c[2] + u[i, 3] * c[3] for i in range(4)]
        out[k] = closed_form_entropy(c, np)
    return out.T


def _jax_scan(step_entropy):
    """A jitted ``(u, psi0, steps) -> (B, T)`` running ``step_entropy(u, psi)`` in one
    ``lax.scan``."""
    import jax

    def run(u, psi0, steps):
        def body(psi, _):
            return step_entropy(u, psi)
        return jax.lax.scan(body, psi0, None, length=steps)[1].T

    return jax.jit(run, static_argnames="steps")


def _engine_step(u, psi):
    from uqo.engine import apply_unitary, entanglement_entropy

    psi = apply_unitary(psi, u)
    return psi, entanglement_entropy(psi, DIMS)


def _closed_step(u, c):
    """``u`` ``(4, 4, B)``, amplitudes ``c`` ``(4, B)``: written per component, XLA fuses the
    step and the entropy into one loop (8x faster on CPU than ``einsum`` over ``(B, 4, 4)``)."""
    import jax.numpy as jnp

    c = jnp.stack([u[i, 0] * c[0] + u[i, 1] * c[1] + u[i, 2] * c[2] + u[i, 3] * c[3]
                   for i in range(4)])
    return c, closed_form_entropy(c, jnp)


def uqo_paths() -> dict:
    """Name -> ``fn(h, psi0, dt, steps)`` returning entropies ``(B, T)`` (numpy or JAX)."""
    paths = {"uqo engine (numpy)": engine_numpy, "uqo closed form (numpy)": closed_numpy}
    if importlib.util.find_spec("jax") is not None:
        paths["uqo engine (jax jit)"] = _jax_path(_engine_step, components=False)
        paths["uqo closed form (jax jit)"] = _jax_path(_closed_step, components=True)
    return paths


def _jax_path(step, components: bool, device_propagator: bool | None = None):
    """The engine's propagator, then the jitted step loop on JAX; with ``components`` the step
    gets ``u`` ``(4, 4, B)`` and kets ``(4, B)``, else ``(B, 4, 4)`` and ``(B, 4)``.

    On the CPU the propagator is computed on the host (numpy), not by ``propagator`` on
    complex64 JAX arrays: on JAX/CPU its float32 ``eigh`` leaves ~1e-6 unitarity error per
    propagator (5x numpy's), and the entropies drift past ``TOLERANCE`` within 100 steps
    (measured 1.5e-4 at T=100, 3.1e-4 at T=200, B=8192). On a GPU (``device_propagator`` None
    means: when JAX's default backend is not the CPU) it is computed on the device in complex128
    (x64 on for that call only) and cast to complex64, so the timed path does not wait for the
    host's batched ``eigh``.
    """
    import jax
    import jax.numpy as jnp
    from uqo.engine import propagator

    run = _jax_scan(step)
    on_device = (jax.default_backend() != "cpu") if device_propagator is None \
        else device_propagator

    def path(h, psi0, dt, steps):
        if on_device:
            with _x64(True):
                u = propagator(jnp.asarray(h, jnp.complex128), dt).astype(jnp.complex64)
            psi0 = jnp.asarray(psi0)
        else:
            u, psi0 = jnp.asarray(propagator(h, dt)), jnp.asarray(psi0)
        if components:
            u, psi0 = jnp.moveaxis(u, 0, -1), psi0.T
        return run(u, psi0, steps)
    return path


def dynamiqs_solve(h, psi0, dt: float, steps: int):
    """dynamiqs' exact solve; saved kets ``(B, T + 1, 4, 1)`` as a JAX array."""
    import dynamiqs as dq
    import jax.numpy as jnp

    tsave = dt * jnp.arange(steps + 1, dtype=jnp.float32)
    res = dq.sesolve(h, psi0[..., None], tsave, method=dq.method.Expm(),
                     cartesian_batching=False, progress_meter=False)
    return res.states.to_jax()


def _dynamiqs_entropy_fn():
    """Jitted ``states (B, T + 1, 4, 1) -> (B, T)``: dynamiqs' own ptrace + entropy_vn."""
    import dynamiqs as dq
    import jax

    return jax.jit(lambda states: dq.entropy_vn(dq.ptrace(states[:, 1:], 0, dims=DIMS)))


def _wait(x):
    getattr(x, "block_until_ready", lambda: None)()
    return x


def median_seconds(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after one untimed warm-up call."""
    _wait(fn())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        _wait(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _runs(h, psi0, dt: float, steps: int) -> dict:
    """Path name -> ``(what it covers, zero-argument call)``; dynamiqs first, its total third."""
    entropy = _dynamiqs_entropy_fn()
    states = _wait(dynamiqs_solve(h, psi0, dt, steps))
    runs = {"dynamiqs sesolve (Expm)": ("solve only", partial(dynamiqs_solve, h, psi0, dt, steps)),
            "dynamiqs entropy_vn(ptrace)": ("entropy only", partial(entropy, states)),
            "dynamiqs total": ("solve + entropy",
                               lambda: entropy(dynamiqs_solve(h, psi0, dt, steps)))}
    for name, fn in uqo_paths().items():
        runs[name] = ("propagator + steps + entropy", partial(fn, h, psi0, dt, steps))
    return runs


def verify(runs: dict, steps: int) -> list[dict]:
    """Each uqo path's entropies ``(B, T)`` against dynamiqs' total, within ``tolerance``.

    A path whose engine call rejects its input (``ValueError``: the eager engine checks the
    norm of the state every step, and complex64 round-off drifts it past the engine's 1e-4
    after ~1,000 steps) gets status ``error`` with the message, and is not timed.
    """
    want, tol = np.asarray(runs["dynamiqs total"][1]()), tolerance(steps)
    checks = []
    for name, (_, fn) in runs.items():
        if not name.startswith("uqo"):
            continue
        try:
            err = float(np.abs(np.asarray(fn()) - want).max())
        except ValueError as exc:
            checks.append({"path": name, "status": "error", "error": str(exc)})
            continue
        checks.append({"path": name, "max_abs_diff_vs_dynamiqs": err,
                       "status": "pass" if err <= tol else "FAIL"})
    return checks


def compare(systems: int, steps: int, dt: float = 0.05, repeats: int = 5) -> dict:
    """Verify, then (only if every check passes) time every path;
    ``{"status", "reason", "checks", "results"}``, or status and reason when skipped."""
    why = peer_missing()
    if why:
        return {"status": "skipped", "reason": why}
    with _without_x64():
        return _compare(systems, steps, dt, repeats)


def _without_x64():
    """A context with ``jax_enable_x64`` off: both sides are complex64 anyway, and dynamiqs
    0.3.7's ``Expm`` fails to trace complex64 input with x64 on (``lax.switch`` branches of
    different dtypes), which ``get_backend("jax")`` turns on (as in ``uqo bench gpu``)."""
    return _x64(False)


def _x64(on: bool):
    """A context setting ``jax_enable_x64`` to ``on`` (the API moved across JAX versions)."""
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(on)
    from jax import experimental

    return experimental.enable_x64() if on else experimental.disable_x64()


def _compare(systems: int, steps: int, dt: float, repeats: int) -> dict:
    runs = _runs(*workload(systems), dt, steps)
    checks = verify(runs, steps)
    passed = {c["path"] for c in checks if c["status"] == "pass"}
    if not passed or any(c["status"] == "FAIL" for c in checks):
        return {"status": "FAIL", "reason": "entropies differ from dynamiqs' by more than "
                f"{tolerance(steps):g}, or no uqo path ran", "checks": checks, "results": []}
    rows = [{"path": name, "covers": covers, "median_s": median_seconds(fn, repeats)}
            for name, (covers, fn) in runs.items()
            if name in passed or not name.startswith("uqo")]
    total = rows[2]["median_s"]
    for r in rows:
        r["system_steps_per_s"] = systems * steps / r["median_s"]
        r["vs_dynamiqs_total"] = total / r["median_s"]
    best = max(rows[3:], key=lambda r: r["system_steps_per_s"])
    left = len(checks) - len(passed)
    return {"status": "pass", "checks": checks, "results": rows,
            "reason": f"fastest uqo path ({best['path']}) at {best['vs_dynamiqs_total']:.1f}x "
                      f"dynamiqs, {systems:,} systems x {steps} steps"
                      + (f"; {left} uqo path(s) not timed (see checks)" if left else "")}


def _versions() -> dict:
    out = {}
    for pkg in ("dynamiqs", "diffrax", "equinox", "jax", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def main(systems: int, steps: int, repeats: int, out_dir: Path, dt: float = 0.05) -> int:
    why = peer_missing()
    if why:
        print(f"uqo bench peers: skipped: {why}")
        return 0
    import jax

    doc = compare(systems, steps, dt, repeats)
    _print(doc, systems, steps)
    result = {"benchmark": "peers", "machine": machine_info(), "versions": _versions(),
              "jax_backend": jax.default_backend(), "systems": systems, "steps": steps,
              "dt": dt, "dtype": "complex64", "repeats": repeats, "tolerance": tolerance(steps),
              **doc}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"peers-{jax.default_backend()}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0 if doc["status"] == "pass" else 1


def _print(doc: dict, systems: int, steps: int) -> None:
    print(f"checks against dynamiqs ({systems:,} systems x {steps} steps, tolerance "
          f"{tolerance(steps):g}):")
    for c in doc["checks"]:
        detail = c.get("error") or f"max abs diff {c['max_abs_diff_vs_dynamiqs']:.2e}"
        print(f"  {c['path']:<28} {c['status']:<5} {detail}")
    if not doc["results"]:
        print(f"not timed: {doc['reason']}")
        return
    head = f"{'path':<30}{'covers':<30}{'median s':>10}{'system-steps/s':>16}{'vs dynamiqs':>13}"
    print(head)
    print("-" * len(head))
    for r in doc["results"]:
        print(f"{r['path']:<30}{r['covers']:<30}{r['median_s']:>10.4f}"
              f"{r['system_steps_per_s']:>16,.0f}{r['vs_dynamiqs_total']:>12.2f}x")
    print(doc["reason"])
