"""A deliberately naive reference for the engine's operations: one system at a time, explicit
index loops, ``kron`` with identities, scipy's ``expm``/``sqrtm``, numpy's general ``eigvals``.

Nothing here shares code or tricks with ``uqo.engine`` (no reshape/permute partial traces, no
Hermitian shortcuts), so agreement is evidence, not an echo. Inputs are single systems
``(D,)`` / ``(D, D)``; use ``per_system`` to loop over a batch.
"""

import itertools
import math

import numpy as np
import scipy.linalg


def per_system(fn, *arrays):
    """Apply ``fn`` to each system of batched ``arrays`` (leading axis) and stack the results."""
    return np.stack([fn(*items) for items in zip(*arrays)])


def digits(index, dims):
    """The basis index as one digit per site, site 0 first."""
    out = []
    for d in reversed(dims):
        out.append(index % d)
        index //= d
    return tuple(reversed(out))


def partial_trace(rho, dims, keep):
    """Sum ``rho[i, j]`` over all basis pairs whose traced digits agree."""
    keep = tuple(keep)
    dk = math.prod(dims[k] for k in keep)
    out = np.zeros((dk, dk), dtype=complex)
    n = math.prod(dims)
    for i in range(n):
        for j in range(n):
            di, dj = digits(i, dims), digits(j, dims)
            if any(di[s] != dj[s] for s in range(len(dims)) if s not in keep):
                continue
            a = b = 0
            for k in keep:
                a, b = a * dims[k] + di[k], b * dims[k] + dj[k]
            out[a, b] += rho[i, j]
    return out


def entropy(rho, base=None):
    h = 0.0
    for lam in np.linalg.eigvals(rho).real:
        if lam > 1e-15:
            h -= lam * math.log(lam)
    return h / math.log(base) if base else h


def entanglement_entropy(psi, dims):
    return entropy(partial_trace(np.outer(psi, psi.conj()), dims, (0,)))


def mutual_information(rho, dims):
    rho_ab = partial_trace(rho, dims, (0, 1))
    ab = (dims[0], dims[1])
    return (entropy(partial_trace(rho_ab, ab, (0,))) + entropy(partial_trace(rho_ab, ab, (1,)))
            - entropy(rho_ab))


def concurrence(rho):
    yy = np.kron([[0, -1j], [1j, 0]], [[0, -1j], [1j, 0]])
    mu = np.linalg.eigvals(rho @ yy @ rho.conj() @ yy)
    lam = sorted((math.sqrt(max(m.real, 0.0)) for m in mu), reverse=True)
    return max(0.0, lam[0] - lam[1] - lam[2] - lam[3])


def partial_transpose_rest(rho, dims):
    """Transpose every site but site 0, entry by entry."""
    n = math.prod(dims)
    out = np.zeros_like(rho)
    for i in range(n):
        for j in range(n):
            di, dj = digits(i, dims), digits(j, dims)
            ti, tj = (di[0],) + dj[1:], (dj[0],) + di[1:]
            out[_index(ti, dims), _index(tj, dims)] = rho[i, j]
    return out


def _index(dig, dims):
    idx = 0
    for x, d in zip(dig, dims):
        idx = idx * d + x
    return idx


def negativity(rho, dims):
    return (np.abs(np.linalg.eigvals(partial_transpose_rest(rho, dims))).sum() - 1) / 2


def fidelity(a, b):
    ra = scipy.linalg.sqrtm(a)
    return np.trace(scipy.linalg.sqrtm(ra @ b @ ra)).real ** 2


def l1_coherence(rho):
    n = rho.shape[0]
    return sum(abs(rho[i, j]) for i in range(n) for j in range(n) if i != j)


def relative_entropy_coherence(rho):
    return entropy(np.diag(np.diag(rho))) - entropy(rho)


def embed(op, site, dims):
    """``I (x) ... (x) op (x) ... (x) I`` with ``op`` on ``site``."""
    full = np.eye(1)
    for s, d in enumerate(dims):
        full = np.kron(full, op if s == site else np.eye(d))
    return full


def expm_evolve(state, H, t):
    u = scipy.linalg.expm(-1j * H * t)
    return u @ state if state.ndim == 1 else u @ state @ u.conj().T


def dft_matrix(d):
    """The QFT ``F[k, j] = exp(2 pi i j k / d) / sqrt(d)``."""
    return np.array([[np.exp(2j * np.pi * j * k / d) for j in range(d)]
                     for k in range(d)]) / math.sqrt(d)


def kraus_map(rho, kraus, site, dims):
    out = np.zeros_like(rho)
    for k in kraus:
        full = embed(k, site, dims)
        out = out + full @ rho @ full.conj().T
    return out


def projector(site, outcome, dims):
    d = dims[site]
    p = np.zeros((d, d))
    p[outcome, outcome] = 1
    return embed(p, site, dims)


def all_keeps(n):
    """Every non-empty ordered subset of ``range(n)`` of size up to 2, plus the identity order."""
    for r in (1, 2):
        yield from itertools.permutations(range(n), r)
