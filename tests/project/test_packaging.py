"""The wheel installs every mapped package under the single import root and imports cleanly."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(out), str(ROOT)], check=True, capture_output=True, cwd=out)
    (whl,) = out.glob("uqo-*.whl")
    return whl


def test_wheel_maps_directories_onto_uqo(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for pkg in ("uqo/__init__.py", "uqo/engine/__init__.py", "uqo/engine/register/__init__.py",
                "uqo/kernels/__init__.py", "uqo/control/__init__.py",
                "uqo/security/__init__.py", "uqo/bench/engine.py", "uqo/cli.py"):
        assert pkg in names, pkg
    top = {n.split("/")[0] for n in names}
    assert not top & {"engine", "control", "security", "kernels", "bench", "tests"}


def test_wheel_imports_in_a_clean_venv(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    # dependencies come from the dev venv's wheel cache/index; --no-deps keeps the test offline-
    # friendly, so put the dev venv's site-packages behind the clean one for the deps only.
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    code = (f"import sys; sys.path.append({str(site)!r}); import uqo, uqo.engine.register, "
            "uqo.cli; print(uqo.__version__, uqo.__file__)")
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout
    assert str(env_dir) in out, out  # imported from the clean venv, not the source tree
