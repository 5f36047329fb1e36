"""Random registers for the kernel tests, and the kernels under test behind one signature."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

KERNELS = Path(__file__).resolve().parents[2] / "kernels"


def random_states(rng, n: int, d: int) -> np.ndarray:
    """complex64 ``(n, d, d)`` density matrices: Hilbert-Schmidt random states mixed with
    random pure states (weight up to 0.9, so many pairs are entangled), plus textbook cells
    (maximally mixed, a basis state, a Bell state) at the front."""
    a = rng.normal(size=(n, d, d)) + 1j * rng.normal(size=(n, d, d))
    hs = a @ a.conj().transpose(0, 2, 1)
    hs /= np.trace(hs, axis1=1, axis2=2).real[:, None, None]
    psi = rng.normal(size=(n, d)) + 1j * rng.normal(size=(n, d))
    psi /= np.linalg.norm(psi, axis=1, keepdims=True)
    w = rng.uniform(0, 0.9, n)[:, None, None]
    rho = w * psi[:, :, None] * psi[:, None, :].conj() + (1 - w) * hs
    rho[0] = np.eye(d) / d
    rho[1] = np.diag(np.eye(d)[d - 1])
    if d == 4:
        bell = np.array([1, 0, 0, 1]) / np.sqrt(2)
        rho[2] = 0.7 * np.outer(bell, bell) + 0.3 * np.eye(4) / 4
    return rho.astype(np.complex64)


def random_params(rng, n: int, k: int, n_rewards: int) -> list:
    """``k`` float32 ``(n,)`` parameter arrays; the last ``n_rewards`` are rewards in [-1, 1]
    with a third of them exactly 0 (no outcome queued)."""
    out = [rng.uniform(0, 0.3, n).astype(np.float32) for _ in range(k - n_rewards)]
    for _ in range(n_rewards):
        r = rng.uniform(-1, 1, n).astype(np.float32)
        r[rng.random(n) < 1 / 3] = 0
        out.append(r)
    return out


def build_cuda_host(tmp: Path) -> ctypes.CDLL:
    """Compile tick.cuh for the host (g++) with the test harness and load it."""
    lib = tmp / "uqo_tick_host.so"
    cxx = shutil.which("g++") or shutil.which("c++")
    subprocess.run([cxx, "-O2", "-std=c++17", "-shared", "-fPIC", f"-I{KERNELS}",
                    str(Path(__file__).with_name("cuda_host.cpp")), "-o", str(lib)],
                   check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(lib))


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def host_cuda_pairs(lib, rho, s_before, *params, coupling_dt, theta0):
    rho, s = np.array(rho, np.complex64), np.array(s_before, np.float64)
    p = np.ascontiguousarray(np.stack(params), np.float32)
    out = np.empty((9, len(rho)))
    lib.host_tick_pairs(_ptr(rho), _ptr(s), _ptr(p), ctypes.c_int(len(rho)),
                        ctypes.c_double(coupling_dt), ctypes.c_double(theta0), _ptr(out))
    keys = ("s_cell", "leak", "ready_a", "ready_b", "s_a", "s_b", "mi", "concurrence", "npurity")
    return rho, dict(zip(keys, out))


def host_cuda_singles(lib, rho, s_before, *params, theta0):
    rho, s = np.array(rho, np.complex64), np.array(s_before, np.float64)
    p = np.ascontiguousarray(np.stack(params), np.float32)
    out = np.empty((4, len(rho)))
    lib.host_tick_singles(_ptr(rho), _ptr(s), _ptr(p), ctypes.c_int(len(rho)),
                          ctypes.c_double(theta0), _ptr(out))
    return rho, dict(zip(("s_cell", "leak", "ready", "npurity"), out))
