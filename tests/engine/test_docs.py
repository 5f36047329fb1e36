"""Every Python block in docs/engine-ops.md runs as written."""

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine-ops.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # Running our own documentation's examples is the point of this test.
        exec(compile(BLOCKS[index], f"{DOC.name}[{index}]", "exec"), {})  # noqa: S102
    assert out.getvalue().strip()  # each example prints what it shows
