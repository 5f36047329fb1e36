"""Per-cell math of the tick for the numba CPU kernel: small in-place functions on 4x4 / 2x2
complex128 scratch matrices, compiled inline into the cell loop of ``numba_tick``.

The formulas are the reference's (``uqo.engine.tick``, ``uqo.engine.pairmath``), written as
scalar code so one pass over the cells does the whole tick with branches a vectorised path cannot
take: no rotation where no reward is queued, no concurrence eigenproblem where the state is
provably separable (see ``separable``). Everything runs in float64; the state is rounded to its
storage precision once, when written back.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from numba import njit

# LLVM fast-math, only the flags that cannot change a result beyond rounding: fused multiply-add
# (contract), x / y as x * (1 / y) (arcp), no signed zeros (nsz). Not nnan/ninf (xlogx and the
# clamps compare), not afn (approximate log/acos), not reassoc (measured slower). 74 -> 64 ms
# per 500k-pair tick on the 2-core CI machine.
FASTMATH = {"contract", "arcp", "nsz"}
_INLINE = {"inline": "always", "cache": True, "fastmath": FASTMATH, "nogil": True}
TINY = 1e-300
# Every file whose numba code ends up inside a cached kernel (see flush_stale_caches).
SOURCES = ("numba_cell.py", "numba_tick.py", "numba_observe.py")


def sources_digest() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def flush_stale_caches(module: str, dispatchers) -> bool:
    """Drop the on-disk cache of ``dispatchers`` when any file of ``SOURCES`` changed since
    it was written; returns True when it flushed.

    numba invalidates a cached function only when the file defining it changes, not when a
    function it inlines from another file does (numba's caching notes), so a kernel of
    ``numba_tick`` would keep running the old ``numba_cell`` math after an edit of this file,
    silently. A digest of all the sources is kept beside the cache (``<module>.uqo-digest``);
    on a mismatch the caches' indexes are emptied (numba's ``Cache.flush``) and the kernels
    compile afresh on first use. A cache directory that cannot be written is left alone.
    """
    caches = [c for c in (getattr(d, "_cache", None) for d in dispatchers)
              if getattr(c, "_cache_path", None)]
    if not caches:
        return False
    digest = sources_digest()
    stamp = Path(caches[0]._cache_path) / f"{module}.uqo-digest"
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    for cache in caches:
        cache.flush()
    try:
        stamp.write_text(digest)
    except OSError:
        pass
    return True


@njit(**_INLINE)
def bit(i, site):
    """The site's bit of basis index ``i = 2a + b`` (site 0 is a)."""
    return (i >> 1) & 1 if site == 0 else i & 1


@njit(**_INLINE)
def with_bit(i, site, v):
    return (v << 1) | (i & 1) if site == 0 else (i & 2) | v


@njit(**_INLINE)
def xlogx(x):
    if x <= 0.0:
        return 0.0
    return x * math.log(max(x, TINY))


@njit(**_INLINE)
def site_channel(m, t, site, p, q, g):
    """Depolarise (p), dephase (q), amplitude-damp (g) ``site`` of the 4x4 ``m`` in place."""
    for i in range(4):
        for j in range(4):
            if bit(i, site) == bit(j, site):
                t[i, j] = (1 - p) * m[i, j] + (p / 2) * (
                    m[with_bit(i, site, 0), with_bit(j, site, 0)]
                    + m[with_bit(i, site, 1), with_bit(j, site, 1)])
            else:
                t[i, j] = ((1 - p) * (1 - 2 * q)) * m[i, j]
    sg = math.sqrt(1 - g)
    for i in range(4):
        for j in range(4):
            k = bit(i, site) + bit(j, site)
            if k == 0:
                m[i, j] = t[i, j] + g * t[with_bit(i, site, 1), with_bit(j, site, 1)]
            elif k == 1:
                m[i, j] = sg * t[i, j]
            else:
                m[i, j] = (sg * sg) * t[i, j]


@njit(**_INLINE)
def cubic_real_roots(a2, a1, a0):
    """Three real roots of ``z^3 + a2 z^2 + a1 z + a0`` (Viete), as pairmath does."""
    p = a1 - a2 * a2 / 3.0
    q = 2.0 * a2 ** 3 / 27.0 - a2 * a1 / 3.0 + a0
    m = math.sqrt(max(-p / 3.0, 0.0))
    m3 = m * m * m
    arg = -q / (2.0 * m3) if m3 > 1e-150 else 0.0
    phi = math.acos(min(max(arg, -1.0), 1.0)) / 3.0
    shift = a2 / 3.0
    # cos(phi - 2 pi k / 3) from cos(phi) and sin(phi) >= 0 (phi in [0, pi/3]): one cosine.
    c = math.cos(phi)
    s = math.sqrt(max(1.0 - c * c, 0.0)) * (math.sqrt(3.0) / 2.0)
    return (2.0 * m * c - shift, 2.0 * m * (-c / 2.0 + s) - shift,
            2.0 * m * (-c / 2.0 - s) - shift)


@njit(**_INLINE)
def deflate_small_roots(z1, z2, z3, a2, a0):
    """The resolvent's two smaller roots from the largest by Vieta when it is well apart
    (``uqo.kernels.cellspectra.deflate_small_roots`` says why)."""
    if not (z1 > TINY and z2 < 0.5 * z1):
        return z2, z3
    s = max(-a2 - z1, 0.0)
    prod = max(-a0 / z1, 0.0)
    big = (s + math.sqrt(max(s * s - 4.0 * prod, 0.0))) / 2.0
    return big, (prod / big if big > TINY else 0.0)


@njit(**_INLINE)
def quartic_roots(t, q2, q3, q4):
    """Four real roots from trace and traceless power sums (Ferrari), as pairmath does."""
    big_p = -q2 / 2.0
    big_q = -q3 / 3.0
    big_r = (q2 * q2 / 2.0 - q4) / 4.0
    a2, a0 = 2.0 * big_p, -big_q * big_q
    z1, z2, z3 = cubic_real_roots(a2, big_p * big_p - 4.0 * big_r, a0)
    z2, z3 = deflate_small_roots(z1, z2, z3, a2, a0)
    s1 = math.sqrt(max(z1, 0.0))
    s2 = math.sqrt(max(z2, 0.0))
    s3 = math.sqrt(max(z3, 0.0))
    if big_q > 0:
        s3 = -s3
    c = t / 4.0
    return ((s1 + s2 + s3) / 2.0 + c, (s1 - s2 - s3) / 2.0 + c,
            (-s1 + s2 - s3) / 2.0 + c, (-s1 - s2 + s3) / 2.0 + c)


@njit(**_INLINE)
def power_sums(m, b, b2):
    """``(t, q2, q3, q4)`` of a 4x4 ``m`` with ``B = m - t I/4`` (scratch ``b``, ``b2``)."""
    t = (m[0, 0] + m[1, 1] + m[2, 2] + m[3, 3]).real
    for i in range(4):
        for j in range(4):
            b[i, j] = m[i, j]
        b[i, i] = m[i, i] - t / 4.0
    for i in range(4):
        for j in range(4):
            acc = 0j
            for k in range(4):
                acc += b[i, k] * b[k, j]
            b2[i, j] = acc
    q2 = 0.0
    q3 = 0.0
    q4 = 0.0
    for i in range(4):
        q2 += b2[i, i].real
        for j in range(4):
            q3 += (b2[i, j] * b[j, i]).real
            q4 += (b2[i, j] * b2[j, i]).real
    return t, q2, q3, q4


@njit(**_INLINE)
def hermitian_power_sums(m, b):
    """``power_sums`` for Hermitian ``m``: only the upper triangle of ``B^2`` is formed."""
    t = m[0, 0].real + m[1, 1].real + m[2, 2].real + m[3, 3].real
    for i in range(4):
        for j in range(4):
            b[i, j] = m[i, j]
        b[i, i] = m[i, i].real - t / 4.0
    q2 = 0.0
    q3 = 0.0
    q4 = 0.0
    for i in range(4):
        for j in range(i, 4):
            acc = 0j
            for k in range(4):
                acc += b[i, k] * b[j, k].conjugate()   # (B^2)_ij = sum_k B_ik conj(B_jk)
            w = 1.0 if i == j else 2.0
            if i == j:
                q2 += acc.real
            q3 += w * (acc.real * b[i, j].real + acc.imag * b[i, j].imag)
            q4 += w * (acc.real * acc.real + acc.imag * acc.imag)
    return t, q2, q3, q4


@njit(**_INLINE)
def pair_entropy(m, b):
    t, q2, q3, q4 = hermitian_power_sums(m, b)
    l0, l1, l2, l3 = quartic_roots(t, q2, q3, q4)
    return -(xlogx(l0) + xlogx(l1) + xlogx(l2) + xlogx(l3))


@njit(**_INLINE)
def qubit_entropy(r00, r11, r01):
    half = math.sqrt((r00 - r11) ** 2 + 4.0 * (r01.real ** 2 + r01.imag ** 2)) / 2.0
    mid = (r00 + r11) / 2.0
    return -(xlogx(mid - half) + xlogx(mid + half))


@njit(**_INLINE)
def separable(m, a):
    """True when the two-qubit state ``m`` is certainly separable, so its concurrence is 0.

    Two-qubit states are separable iff the partial transpose is positive, and the partial
    transpose has at most one negative eigenvalue, so ``det(m^T_B) > 0`` proves separability
    (Augusiak, Demianowicz, Horodecki, PRA 77, 030301 (2008)). The margin 1e-12 is far above the
    float64 round-off of a 4x4 determinant of entries <= 1; states near the boundary take the
    full (reference) formula.
    """
    for i in range(4):
        for j in range(4):
            a[i, j] = m[(i & 2) | (j & 1), (j & 2) | (i & 1)]   # swap the B indices
    return laplace_det(a).real > 1e-12


@njit(**_INLINE)
def _minor(a, r0, r1, c0, c1):
    return a[r0, c0] * a[r1, c1] - a[r0, c1] * a[r1, c0]


@njit(**_INLINE)
def laplace_det(a):
    """Determinant of a 4x4 by Laplace expansion along rows (0, 1) in 2x2 minors."""
    return (_minor(a, 0, 1, 0, 1) * _minor(a, 2, 3, 2, 3) - _minor(a, 0, 1, 0, 2) * _minor(a, 2, 3, 1, 3)
            + _minor(a, 0, 1, 0, 3) * _minor(a, 2, 3, 1, 2) + _minor(a, 0, 1, 1, 2) * _minor(a, 2, 3, 0, 3)
            - _minor(a, 0, 1, 1, 3) * _minor(a, 2, 3, 0, 2) + _minor(a, 0, 1, 2, 3) * _minor(a, 2, 3, 0, 1))


@njit(**_INLINE)
def concurrence(m, purity, mt, prod, b, b2):
    """Wootters concurrence of the 4x4 state ``m`` with purity ``Tr m^2`` (scratch ``mt, prod,
    b, b2``). States with purity <= 1/3 are separable (Zyczkowski, Horodecki, Sanpera,
    Lewenstein, PRA 58, 883 (1998)), and so are those ``separable`` proves: both get 0 without
    the eigenproblem, as the reference's ``max(0, ...)`` gives them."""
    if purity < 1.0 / 3.0 - 1e-12 or separable(m, b):
        return 0.0
    for i in range(4):
        for j in range(4):
            si = -1.0 if (i == 0 or i == 3) else 1.0   # sigma_y (x) sigma_y signs
            sj = -1.0 if (j == 0 or j == 3) else 1.0
            mt[i, j] = (si * sj) * m[3 - i, 3 - j].conjugate()
    for i in range(4):
        for j in range(4):
            acc = 0j
            for k in range(4):
                acc += m[i, k] * mt[k, j]
            prod[i, j] = acc
    t, q2, q3, q4 = power_sums(prod, b, b2)
    mu0, mu1, mu2, mu3 = quartic_roots(t, q2, q3, q4)
    l0 = math.sqrt(max(mu0, 0.0))
    l1 = math.sqrt(max(mu1, 0.0))
    l2 = math.sqrt(max(mu2, 0.0))
    l3 = math.sqrt(max(mu3, 0.0))
    top = max(max(l0, l1), max(l2, l3))
    return max(2.0 * top - (l0 + l1 + l2 + l3), 0.0)


@njit(**_INLINE)
def rotation(r00, r11, r01, reward, theta0):
    """``(alpha, beta)`` of ``u = [[alpha, beta], [-conj(beta), alpha]]`` turning the Bloch
    vector of the 2x2 state toward the reward's target, as ``uqo.engine.tick.rotation_toward``."""
    x, y, z = 2.0 * r01.real, -2.0 * r01.imag, r00 - r11
    tz = -1.0 if reward > 0 else 1.0
    nx, ny = y * tz, -x * tz
    norm_perp = math.sqrt(nx * nx + ny * ny)
    rlen = math.sqrt(x * x + y * y + z * z)
    cos_to = z * tz / rlen if rlen > 0 else 1.0
    gap = math.acos(min(max(cos_to, -1.0), 1.0))
    if norm_perp < 1e-12:
        nx, ny = 0.0, 1.0
    else:
        nx, ny = nx / norm_perp, ny / norm_perp
    theta = min(theta0 * abs(reward), gap) if rlen > 1e-12 else 0.0
    c, s = math.cos(theta / 2.0), math.sin(theta / 2.0)
    return c, complex(-s * ny, -s * nx)


@njit(**_INLINE)
def conjugate_site(m, t, site, alpha, beta):
    """``m <- (u (x) I) m (u (x) I)^dag`` (site 0) or with ``I (x) u`` (site 1)."""
    u00, u01, u10, u11 = complex(alpha, 0.0), beta, -beta.conjugate(), complex(alpha, 0.0)
    for i in range(4):
        for j in range(4):
            x0, x1 = m[with_bit(i, site, 0), j], m[with_bit(i, site, 1), j]
            t[i, j] = u00 * x0 + u01 * x1 if bit(i, site) == 0 else u10 * x0 + u11 * x1
    for i in range(4):
        for j in range(4):
            y0, y1 = t[i, with_bit(j, site, 0)], t[i, with_bit(j, site, 1)]
            if bit(j, site) == 0:
                m[i, j] = y0 * u00.conjugate() + y1 * u01.conjugate()
            else:
                m[i, j] = y0 * u10.conjugate() + y1 * u11.conjugate()


@njit(**_INLINE)
def hygiene(m, n):
    """Hermitian part and unit trace, in place (the reference's round-off hygiene)."""
    tr = 0.0
    for i in range(n):
        tr += m[i, i].real
    for i in range(n):
        m[i, i] = complex(m[i, i].real / tr, 0.0)
        for j in range(i + 1, n):
            v = (m[i, j] + m[j, i].conjugate()) / (2.0 * tr)
            m[i, j] = v
            m[j, i] = v.conjugate()
