import os
import subprocess

import pytest
from uqo.security.errors import InvalidArgument
from uqo.security.softhsm import find_module, init_token


def _labels(token):
    out = subprocess.run(["softhsm2-util", "--show-slots"], capture_output=True, text=True,
                         env={**os.environ, "SOFTHSM2_CONF": token.conf_path}, check=True)
    return [line.split(":", 1)[1].strip() for line in out.stdout.splitlines()
            if line.strip().startswith("Label:") and line.split(":", 1)[1].strip()]


def test_init_twice_leaves_exactly_one_token(tmp_path):
    init_token(tmp_path / "hsm", label="twice")
    token = init_token(tmp_path / "hsm", label="twice")
    assert _labels(token) == ["twice"]
    assert token.module == find_module() and os.path.exists(token.module)
    with open(token.conf_path) as fh:
        assert "directories.tokendir" in fh.read()


@pytest.mark.parametrize("pins", [{"user_pin": "123"}, {"so_pin": ""}])
def test_short_pins_are_refused_before_anything_runs(tmp_path, pins):
    with pytest.raises(InvalidArgument, match="4..255"):
        init_token(tmp_path / "hsm", **pins)
    assert not (tmp_path / "hsm").exists()
