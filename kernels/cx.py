"""Complex numbers as (real, imaginary) pairs of arrays, and 4x4 / 2x2 matrices as lists of them.

The fused JAX tick is written elementwise: every matrix entry of a cell is a ``(C,)`` array (one
value per cell), and matrix products are spelled out as sums of scalar products, so XLA sees one
big elementwise expression and fuses it into a single loop (no batched ``matmul``, no ``einsum``).
We keep real and imaginary parts apart ourselves, instead of complex dtypes, for one reason:
diagonal entries of Hermitian matrices are real, and ``im=None`` lets the Python level skip the
multiplications by zero that a complex dtype would make XLA perform.

``Cx`` works with any array type that has ``+ - *`` (numpy, jax.numpy, Python floats); the tests
check the algebra on numpy.
"""

from __future__ import annotations


class Cx:
    """``re + i im`` with ``re``, ``im`` arrays of one shape; ``im is None`` means exactly real."""

    __slots__ = ("im", "re")

    def __init__(self, re, im=None):
        self.re, self.im = re, im

    def conj(self) -> Cx:
        return self if self.im is None else Cx(self.re, -self.im)

    def __add__(self, other: Cx) -> Cx:
        return Cx(self.re + other.re, _add(self.im, other.im))

    def __sub__(self, other: Cx) -> Cx:
        return Cx(self.re - other.re, _add(self.im, None if other.im is None else -other.im))

    def __neg__(self) -> Cx:
        return Cx(-self.re, None if self.im is None else -self.im)

    def __mul__(self, other: Cx) -> Cx:
        a, b, c, d = self.re, self.im, other.re, other.im
        if b is None and d is None:
            return Cx(a * c)
        if b is None:
            return Cx(a * c, a * d)
        if d is None:
            return Cx(a * c, b * c)
        return Cx(a * c - b * d, a * d + b * c)

    def scale(self, k) -> Cx:
        """Multiply by a real ``k`` (array or scalar)."""
        return Cx(self.re * k, None if self.im is None else self.im * k)

    def abs2(self):
        return self.re * self.re if self.im is None else self.re * self.re + self.im * self.im

    def astype(self, dtype) -> Cx:
        return Cx(self.re.astype(dtype), None if self.im is None else self.im.astype(dtype))


def _add(x, y):
    if x is None:
        return y
    if y is None:
        return x
    return x + y


def csum(terms) -> Cx:
    """Sum of an iterable of ``Cx`` (at least one)."""
    it = iter(terms)
    total = next(it)
    for t in it:
        total = total + t
    return total


# ---- matrices: lists of rows of Cx ------------------------------------------------------------

def hermitian(upper: dict, n: int) -> list:
    """Full ``n x n`` matrix from its upper triangle ``{(i, j): Cx}`` (``i <= j``)."""
    return [[upper[(i, j)] if i <= j else upper[(j, i)].conj() for j in range(n)]
            for i in range(n)]


def upper(m: list) -> dict:
    """Upper triangle ``{(i, j): Cx}`` of a square matrix, diagonal made exactly real."""
    n = len(m)
    return {(i, j): (Cx(m[i][j].re) if i == j else m[i][j]) for i in range(n) for j in range(i, n)}


def matmul(a: list, b: list, hermitian_result: bool = False) -> list:
    """``a @ b``; with ``hermitian_result`` only the upper triangle is computed (the caller
    knows the product is Hermitian) and the rest mirrored."""
    n = len(a)
    if not hermitian_result:
        return [[csum(a[i][k] * b[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    up = {(i, j): csum(a[i][k] * b[k][j] for k in range(n)) for i in range(n) for j in range(i, n)}
    return hermitian(upper_real_diag(up), n)


def upper_real_diag(up: dict) -> dict:
    return {k: (Cx(v.re) if k[0] == k[1] else v) for k, v in up.items()}


def dagger(m: list) -> list:
    n = len(m)
    return [[m[j][i].conj() for j in range(n)] for i in range(n)]


def trace_re(m: list):
    total = m[0][0].re
    for i in range(1, len(m)):
        total = total + m[i][i].re
    return total
