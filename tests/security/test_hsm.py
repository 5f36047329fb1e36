"""Provisioning a data directory's signing key on a SoftHSM2 token: made once, recorded
(without the PIN), reopened by the command line, PIN kept out of the data directory.

Each case runs in a child process: SoftHSM reads its configuration once per process, and the
session's test token (conftest) has already claimed this one."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import json, os, sys
    from uqo.security.hsm import HsmConfig, provision, open_recorded
    from uqo.security.errors import SecurityError
    data, store, pin = sys.argv[1:4]
    sec = os.path.join(data, "security")
    mode = sys.argv[4]
    out = {}
    try:
        signer, note = provision(sec, HsmConfig(mode=mode, store=store, pin_file=pin), {})
        out["note"], out["describe"] = note, signer.describe()
        out["key_id"] = signer.key_id
        signer.close()
        again = open_recorded(sec, {})
        out["reopened"] = again.key_id
        again.close()
    except (SecurityError, ValueError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))
''')


def _provision(tmp_path, mode="auto", pin=None, data=None):
    data = data or tmp_path / "data"
    pin = pin or tmp_path / "elsewhere" / "pin"
    env = {k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "UQO_HSM_PIN")}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(data), str(tmp_path / "store"),
                             str(pin), mode], capture_output=True, text=True, env=env,
                            timeout=120, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_the_key_is_made_on_a_token_non_extractable_and_recorded_without_the_pin(tmp_path):
    out = _provision(tmp_path)
    assert out["describe"]["backend"] == "pkcs11" and out["describe"]["non_extractable"]
    assert out["reopened"] == out["key_id"]
    sec = tmp_path / "data" / "security"
    record = json.loads((sec / "signer.json").read_text())
    pin = (tmp_path / "elsewhere" / "pin").read_text().strip()
    assert pin not in (sec / "signer.json").read_text() and record["pin_file"].endswith("pin")
    assert not (sec / "keystore.pass").exists() and not (sec / "keystore.json").exists()
    assert oct((tmp_path / "elsewhere" / "pin").stat().st_mode & 0o777) == "0o600"
    assert _provision(tmp_path)["key_id"] == out["key_id"]          # the second start


def test_a_pin_file_inside_the_data_directory_is_refused(tmp_path):
    out = _provision(tmp_path, pin=tmp_path / "data" / "pin")
    assert "inside the data directory" in out["error"]


@pytest.mark.parametrize("mode, backend", [("off", "software keystore")])
def test_hsm_off_keeps_the_software_keystore(tmp_path, mode, backend):
    out = _provision(tmp_path, mode=mode)
    assert out["describe"]["backend"] == backend and "hsm = off" in out["note"]
