"""numba's on-disk cache must not outlive an edit of the per-cell math.

numba invalidates a cached kernel only when its own file changes; the tick and observation
kernels inline ``numba_cell`` from another file, so ``numba_cell.flush_stale_caches`` keeps a
digest of all three sources beside the cache. Here a copy of the three files is imported in fresh
processes (as a later session would), ``numba_cell`` is edited in between, and the second process
must run the edited math; without the flush it runs the stale one (the control).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

KERNELS = Path(__file__).parents[2] / "kernels"
RUN = textwrap.dedent("""
    import numpy as np
    from kcopy import numba_observe as no
    rho = np.zeros((1, 4, 4), np.complex64)
    rho[0, 0, 0] = rho[0, 1, 1] = 0.5          # |0><0| x I/2: entropy ln 2
    s = np.zeros(1)
    no.lueders_pairs_inplace(rho, s, np.array([0]), np.array([0]), np.ones(1), np.ones(1))
    print(repr(float(s[0])))
""")
ENTROPY = "    return -(xlogx(l0) + xlogx(l1) + xlogx(l2) + xlogx(l3))\n"


def _copy(tmp_path: Path) -> Path:
    pkg = tmp_path / "kcopy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("numba_cell.py", "numba_tick.py", "numba_observe.py"):
        shutil.copy(KERNELS / name, pkg / name)
    assert ENTROPY in (pkg / "numba_cell.py").read_text(), "numba_cell changed: update the test"
    return pkg


def _entropy(tmp_path: Path) -> float:
    out = subprocess.run([sys.executable, "-c", RUN], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return float(out.stdout.strip().splitlines()[-1])


def _edit(pkg: Path, old: str, new: str, name: str = "numba_cell.py") -> None:
    path = pkg / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("guarded", [True, False])
def test_editing_numba_cell_recompiles_the_kernels_that_inline_it(tmp_path, guarded):
    pkg = _copy(tmp_path)
    if not guarded:   # the control: numba's own invalidation alone
        _edit(pkg, 'nc.flush_stale_caches("numba_observe", (_lueders_pairs,))', "",
              "numba_observe.py")
    first = _entropy(tmp_path)
    assert abs(first - 0.6931471805599453) < 1e-6
    assert list((pkg / "__pycache__").glob("numba_observe*.nbi")), "nothing was cached"
    _edit(pkg, ENTROPY, ENTROPY.replace("xlogx(l3))", "xlogx(l3)) + 1.0"))
    second = _entropy(tmp_path)
    if guarded:
        assert abs(second - (first + 1.0)) < 1e-9, (first, second)
    else:
        assert second == first   # stale: this is what the guard exists for
