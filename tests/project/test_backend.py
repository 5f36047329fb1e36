"""Backend detection imports nothing it does not need; selection errors are explicit."""

import subprocess
import sys

import pytest
from uqo.engine.backend import BackendUnavailable, available_backends, get_backend, resolve_name


def test_detection_does_not_import_backends():
    code = ("import sys; from uqo.engine.backend import available_backends; "
            "available_backends(); import uqo.engine.register; "
            "print('jax' in sys.modules, 'cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_numpy_always_available_and_unknown_name_refused():
    assert available_backends()["numpy"][0] is True
    assert get_backend("numpy").name == "numpy"
    with pytest.raises(ValueError, match="tpu"):
        resolve_name("tpu")


def test_env_variable_selects(monkeypatch):
    monkeypatch.setenv("UQO_BACKEND", "numpy")
    assert resolve_name(None) == "numpy"


def test_cupy_without_device_is_unavailable_with_reason():
    ok, why = available_backends(probe=True)["cupy"]
    if not ok:
        with pytest.raises(BackendUnavailable, match="cupy"):
            resolve_name("cupy")
        assert why
