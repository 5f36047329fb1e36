"""``warm_compiled``: a fresh process has every compiled step of a decision loaded after it."""

import subprocess
import sys

CHECK = """
from uqo.control.scheduler import compiled
from uqo.control.scheduler.warm import warm_compiled
steps = [f for f in vars(compiled).values() if hasattr(f, "signatures") and hasattr(f, "py_func")]
assert not any(f.signatures for f in steps)          # nothing loaded yet in this process
assert warm_compiled() and not warm_compiled()       # once per process
missing = sorted(f.__name__ for f in steps if not f.signatures
                 and f.__name__ != "_no_repeat")   # compiled into distinct, not called alone
print("missing", missing)
"""


def test_a_fresh_process_has_the_decision_steps_loaded_after_warming():
    out = subprocess.run([sys.executable, "-c", CHECK], check=False, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "missing []"
