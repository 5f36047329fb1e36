"""Argument conversion and checks shared by the engine's public functions.

Every public engine function goes *convert -> check -> compute*: it takes the array namespace
``xp`` from its main argument (``namespace``), converts the arguments to complex arrays of one
dtype (``as_complex``), checks them here, then runs one vectorised core over all leading (batch)
axes. A failed check raises ``ValueError`` naming the argument and its shape.

Dtypes: complex input keeps its dtype; real or integer input becomes complex64 (the engine's
default); complex128 is used only when asked for by passing complex128 arrays.

Value checks (finite, normalised, Hermitian, unitary) need concrete numbers. Under ``jax.jit``
the arguments are tracers, so those checks are skipped there and only the static shape checks
run; call the functions eagerly once to validate data you do not trust.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj

# How far a state's norm or trace, a matrix's Hermiticity or unitarity may be off, by the real
# precision (bytes per real number) of the data: loose enough for float32 round-off over many
# operations, tight enough to catch a state that was never normalised.
TOLERANCE = {4: 1e-4, 8: 1e-6}


def namespace(x) -> Any:
    """The array namespace of ``x`` (numpy's for lists, tuples and Python scalars)."""
    if is_array_api_obj(x):
        return array_namespace(x)
    return array_namespace(np.empty(0))


def is_concrete(x) -> bool:
    """False for a JAX tracer (inside ``jax.jit``), whose values cannot be inspected."""
    if not type(x).__module__.startswith("jax"):
        return True
    import jax  # already imported: x is a JAX object

    return not isinstance(x, jax.core.Tracer)


def shape_of(x) -> tuple[int, ...]:
    return tuple(int(n) for n in x.shape)


def as_complex(x, name: str, xp, dtype=None):
    """``x`` as a complex array of namespace ``xp``.

    With ``dtype`` given the result has that dtype; otherwise complex input keeps its dtype and
    real, integer or boolean input becomes complex64.
    """
    try:
        arr = xp.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not an array of numbers: {exc}") from None
    if dtype is not None:
        return xp.astype(arr, dtype)
    if xp.isdtype(arr.dtype, "complex floating"):
        return arr
    if xp.isdtype(arr.dtype, ("real floating", "integral", "bool")):
        return xp.astype(arr, xp.complex64)
    raise ValueError(f"{name} has dtype {arr.dtype}; expected numbers")


def real_dtype(dtype, xp):
    """float32 for complex64 (or float32), float64 for complex128 (or float64)."""
    return xp.float64 if xp.finfo(dtype).bits == 64 else xp.float32


def tolerance(dtype, xp) -> float:
    return TOLERANCE[xp.finfo(dtype).bits // 8]


def check_ndim(x, name: str, ndim: int, what: str) -> None:
    if x.ndim < ndim:
        raise ValueError(f"{name} has shape {shape_of(x)}; expected {what}")


def check_square(x, name: str, what: str = "(..., D, D)") -> int:
    """The size ``D`` of square matrices ``x`` of shape ``(..., D, D)``."""
    check_ndim(x, name, 2, what)
    if x.shape[-1] != x.shape[-2] or x.shape[-1] == 0:
        raise ValueError(f"{name} has shape {shape_of(x)}; expected square matrices {what}")
    return int(x.shape[-1])


def check_finite(x, name: str, xp) -> None:
    if is_concrete(x) and not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name} with shape {shape_of(x)} contains NaN or infinity")


def _first_bad(bad) -> str:
    """Where the first ``True`` of a boolean batch array sits, for error messages."""
    host = np.asarray(bad.get() if hasattr(bad, "get") else bad)
    if host.ndim == 0:
        return ""
    return f" (first at batch index {tuple(int(i) for i in np.argwhere(host)[0])})"


def check_close(err, name: str, x, what: str, tol: float, xp) -> None:
    """Raise if any of the per-system errors ``err`` (shape = batch shape) exceeds ``tol``."""
    if not is_concrete(err):
        return
    bad = err > tol
    if bool(xp.any(bad)):
        worst = float(xp.max(err))
        raise ValueError(f"{name} with shape {shape_of(x)} is not {what}: error {worst:.2e} "
                         f"> {tol:g}{_first_bad(bad)}")


def dagger(x, xp):
    """Conjugate transpose of the last two axes."""
    return xp.conj(xp.matrix_transpose(x))


def max_abs(x, xp, axes):
    return xp.max(xp.abs(x), axis=axes)


def check_hermitian(x, name: str, xp, relative: bool = False) -> None:
    """``x`` ``(..., D, D)`` equals its conjugate transpose (within tolerance; relative to the
    largest entry when ``relative``)."""
    if not is_concrete(x):
        return
    err = max_abs(x - dagger(x, xp), xp, (-2, -1))
    if relative:
        err = err / xp.clip(max_abs(x, xp, (-2, -1)), 1.0, None)
    check_close(err, name, x, "Hermitian", tolerance(x.dtype, xp), xp)


def identity_error(m, xp):
    """``max |m - I|`` per system, for ``m`` of shape ``(..., d, d)``."""
    eye = xp.eye(m.shape[-1], dtype=m.dtype)
    return max_abs(m - eye, xp, (-2, -1))


def check_unitary(u, name: str, xp) -> None:
    if is_concrete(u):
        err = identity_error(xp.matmul(dagger(u, xp), u), xp)
        check_close(err, name, u, "unitary", tolerance(u.dtype, xp), xp)


def check_ket(psi, name: str, xp) -> int:
    """Normalised state vectors ``(..., D)``; returns ``D``."""
    check_ndim(psi, name, 1, "state vectors (..., D)")
    if psi.shape[-1] == 0:
        raise ValueError(f"{name} has shape {shape_of(psi)}; expected D >= 1")
    check_finite(psi, name, xp)
    if is_concrete(psi):
        norm2 = xp.sum(xp.abs(psi) ** 2, axis=-1)
        check_close(xp.abs(norm2 - 1.0), name, psi, "normalised", tolerance(psi.dtype, xp), xp)
    return int(psi.shape[-1])


def check_density(rho, name: str, xp) -> int:
    """Hermitian, unit-trace density matrices ``(..., D, D)``; returns ``D``."""
    d = check_square(rho, name, "density matrices (..., D, D)")
    check_finite(rho, name, xp)
    check_hermitian(rho, name, xp)
    if is_concrete(rho):
        tr = xp.real(xp.linalg.trace(rho))
        check_close(xp.abs(tr - 1.0), name, rho, "normalised (trace 1)",
                    tolerance(rho.dtype, xp), xp)
    return d


def check_dims(dims, d_total: int, name: str = "dims") -> tuple[int, ...]:
    """``dims`` as a tuple of positive ints whose product is ``d_total``."""
    try:
        out = tuple(operator.index(n) for n in dims)
    except TypeError:
        raise ValueError(f"{name}={dims!r} must be a sequence of positive integers") from None
    if not out or any(n < 1 for n in out):
        raise ValueError(f"{name}={dims!r} must be a non-empty sequence of positive integers")
    if math.prod(out) != d_total:
        raise ValueError(f"{name}={out} multiply to {math.prod(out)}, but the state has "
                         f"dimension D={d_total}")
    return out


def check_site(site, dims: tuple[int, ...], name: str = "site") -> int:
    try:
        s = operator.index(site)
    except TypeError:
        raise ValueError(f"{name}={site!r} must be an integer") from None
    if not 0 <= s < len(dims):
        raise ValueError(f"{name}={s} is out of range for dims={dims} ({len(dims)} sites)")
    return s


def check_probability(p, name: str, xp) -> None:
    """Probabilities in [0, 1], finite."""
    if is_concrete(p):
        ok = xp.all(xp.isfinite(p)) & xp.all(p >= 0) & xp.all(p <= 1)
        if not bool(ok):
            raise ValueError(f"{name}={_show(p)} must lie in [0, 1]")


def _show(x) -> str:
    shape = shape_of(x)
    return repr(float(x)) if shape == () else f"<array of shape {shape}>"


def check_base(base) -> float | None:
    """The log base for entropies: None (nats) or a positive number other than 1."""
    if base is None:
        return None
    try:
        b = float(base)
    except (TypeError, ValueError):
        raise ValueError(f"base={base!r} must be a number (2 for bits) or None") from None
    if not (math.isfinite(b) and b > 0 and b != 1):
        raise ValueError(f"base={base!r} must be positive and not 1")
    return b


def check_broadcast(name_a: str, a, batch_a, name_b: str, b, batch_b) -> tuple[int, ...]:
    """The broadcast of two batch shapes, or ValueError naming both arguments."""
    try:
        return tuple(np.broadcast_shapes(tuple(batch_a), tuple(batch_b)))
    except ValueError:
        raise ValueError(f"{name_a} with shape {shape_of(a)} and {name_b} with shape "
                         f"{shape_of(b)} have batch axes {tuple(batch_a)} and {tuple(batch_b)} "
                         "that do not broadcast") from None
