"""The `uqo` command: help, version, backends, demo, and bad input."""

import json
import subprocess
import sys

from uqo import __version__


def _uqo(*args, env=None):
    return subprocess.run([sys.executable, "-m", "uqo", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_help_lists_commands():
    out = _uqo("--help")
    assert out.returncode == 0
    for cmd in ("version", "backends", "demo", "bench"):
        assert cmd in out.stdout


def test_version():
    assert _uqo("version").stdout.strip() == __version__


def test_backends_json_reports_numpy_and_reasons():
    out = _uqo("backends", "--json")
    doc = json.loads(out.stdout)
    assert doc["backends"]["numpy"]["available"] is True
    assert doc["auto"] in ("numpy", "jax", "cupy")
    if not doc["backends"]["cupy"]["available"]:
        assert doc["backends"]["cupy"]["detail"]  # a reason, not a blank


def test_demo_small_runs_and_prints_table():
    out = _uqo("demo", "--agents", "2000", "--ticks", "3", "--backend", "numpy")
    assert out.returncode == 0, out.stderr
    assert "fleet diagnostics" in out.stdout and "global" in out.stdout


def test_bad_backend_is_a_clear_error(monkeypatch):
    out = _uqo("demo", "--agents", "100", "--ticks", "2", "--backend", "tpu")
    assert out.returncode == 2 and "tpu" in out.stderr


def test_bad_agent_count_names_the_value():
    out = _uqo("demo", "--agents", "lots")
    assert out.returncode == 2 and "lots" in out.stderr


def test_unavailable_backend_says_why():
    import os

    env = dict(os.environ, UQO_BACKEND="cupy")
    out = _uqo("demo", "--agents", "100", "--ticks", "2", env=env)
    try:
        import cupy
        has_cupy = cupy.is_available()
    except ImportError:
        has_cupy = False
    if not has_cupy:
        assert out.returncode == 2 and "cupy" in out.stderr and "not available" in out.stderr


def test_bad_tracing_settings_are_named_and_nothing_starts(tmp_path):
    import os

    out = _uqo("agent", "--agent-id", "a1", "--otlp-endpoint", "collector:4317")
    assert out.returncode == 2 and "'collector:4317'" in out.stderr and "otlp_endpoint" in out.stderr
    env = dict(os.environ, OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    out = _uqo("serve", "--data-dir", str(tmp_path / "d"), "--port", "0", env=env)
    assert out.returncode == 2 and "OTEL_EXPORTER_OTLP_PROTOCOL" in out.stderr
    assert not (tmp_path / "d").exists()
    out = _uqo("agent", "--agent-id", "a1", "--otlp-protocol", "carrier-pigeon")
    assert out.returncode == 2 and "carrier-pigeon" in out.stderr
