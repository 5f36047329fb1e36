"""The public surface of uqo.engine, and that importing it loads no optional backend."""

import subprocess
import sys

from uqo import engine

ISSUE_NAMES = [
    "partial_trace", "purity", "von_neumann_entropy", "entanglement_entropy",
    "mutual_information", "concurrence", "negativity", "fidelity", "l1_coherence",
    "relative_entropy_coherence", "evolve", "qft", "iqft", "split_step", "apply_unitary",
    "apply_kraus", "dephasing", "amplitude_damping", "depolarizing", "measure", "weak_measure",
    "correlation_matrix", "normalise", "inner", "expectation", "to_density"]


def test_issue_names_are_public():
    missing = [n for n in ISSUE_NAMES if not callable(getattr(engine, n, None))]
    assert missing == []
    assert set(ISSUE_NAMES) <= set(engine.__all__)


def test_importing_the_engine_imports_no_jax_or_cupy():
    code = ("import sys, uqo.engine; "
            "print(sorted(m for m in ('jax', 'cupy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
