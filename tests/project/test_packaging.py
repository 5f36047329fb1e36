"""The built wheel holds the whole product and runs it from a clean virtual environment.

The editable install of the dev venv maps the source directories at import time, so it cannot
notice a package left out of the wheel (a directory without ``__init__.py`` is invisible to
``find_packages``: ``uqo.control.api`` and ``uqo.control.sim`` once were). These tests build the
wheel, compare its modules with the source tree file by file, install it into a fresh venv
outside the checkout and run ``uqo backends``, ``uqo simulate`` and ``uqo serve`` from there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# source directory -> its place in the wheel (setup.py's MAPPED)
MAPPED = {"src/uqo": "uqo", "engine": "uqo/engine", "kernels": "uqo/kernels",
          "control": "uqo/control", "security": "uqo/security", "bench": "uqo/bench"}
pytestmark = pytest.mark.slow


def _source_modules() -> set[str]:
    out = set()
    for src, dst in MAPPED.items():
        for path in (ROOT / src).rglob("*.py"):
            rel = path.relative_to(ROOT / src)
            if "__pycache__" in rel.parts:
                continue
            nested = [d for d in MAPPED if d != src and (ROOT / d) in path.parents]
            if not nested:
                out.add(f"{dst}/{rel.as_posix()}")
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the source (setuptools leaves build/lib behind, and a stale module
    there would end up in the wheel and hide a missing one)."""
    src, out = tmp_path_factory.mktemp("src") / "uqo", tmp_path_factory.mktemp("dist")
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "uqo-data", ".whl"))
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(out), str(src)], check=True, capture_output=True, cwd=out)
    (whl,) = out.glob("uqo-*.whl")
    return whl


@pytest.fixture(scope="module")
def clean_venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with only the wheel installed; the third-party
    dependencies are borrowed from the dev venv through a .pth file (the test stays offline)."""
    env_dir = tmp_path_factory.mktemp("clean") / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    dev_site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    clean_site = next(env_dir.glob("lib/python3*/site-packages"))
    (clean_site / "zz-dev-deps.pth").write_text(f"{dev_site}\n")
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(env_dir / "bin" / "uqo"), *args], capture_output=True, check=False,
                          text=True, cwd=cwd, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_every_source_module_is_in_the_wheel(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_source_modules() - names)
    assert not missing, f"modules missing from the wheel (a directory without __init__.py?): " \
                        f"{missing}"
    assert "uqo/kernels/tick.cu" in names and "uqo/kernels/tick.cuh" in names
    ui = {f"uqo/control/api/static/{f}" for f in ("index.html", "app.js", "style.css")}
    assert ui <= names, sorted(ui - names)          # the status page's assets (/ui)
    top = {n.split("/")[0] for n in names}
    assert not top & {"engine", "control", "security", "kernels", "bench", "tests"}


def test_every_package_directory_has_an_init():
    for src in MAPPED:
        for path in (ROOT / src).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            assert (path.parent / "__init__.py").exists(), f"{path.parent} has no __init__.py"


def test_cli_runs_from_the_wheel(clean_venv, tmp_path):
    out = _run(clean_venv, "backends", cwd=tmp_path)
    assert re.search(r"^numpy\s+yes", out, re.MULTILINE), out
    code = ("import uqo, uqo.control.api, uqo.control.sim, uqo.engine.register; "
            "print(uqo.__file__)")
    imported = subprocess.run([str(clean_venv / "bin" / "python"), "-c", code], check=True,
                              capture_output=True, text=True, cwd=tmp_path).stdout
    assert str(clean_venv) in imported, imported   # from the clean venv, not the source tree
    sim = tmp_path / "sim.json"
    _run(clean_venv, "simulate", "--agents", "60", "--duration", "20", "--rate", "2",
         "--strategies", "quantum,round_robin", "--quality", "0", "--no-progress",
         "--out", str(sim), cwd=tmp_path)
    doc = json.loads(sim.read_text())
    assert set(doc["results"]) == {"quantum", "round_robin"}, doc


def test_serve_runs_from_the_wheel(clean_venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["UQO_CAPACITY"] = "4096"
    proc = subprocess.Popen([str(clean_venv / "bin" / "uqo"), "serve", "--port", "0",
                             "--data-dir", str(tmp_path / "data")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, seen, deadline = None, [], time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = re.search(r"ready on (http://\S+)", line)
            url = match.group(1) if match else None
        assert url, "".join(seen)
        with urllib.request.urlopen(f"{url}/health/live", timeout=10) as resp:
            assert json.loads(resp.read()) == {"status": "live"}
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
            assert b"uqo_agents 0.0" in resp.read()
        with urllib.request.urlopen(f"{url}/ui/app.js", timeout=10) as resp:   # package data
            assert b"/v1/status/stream" in resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
