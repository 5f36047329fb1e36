"""``uqo users|audit|certs|compliance`` through the real command line entry point."""

import io
import json

import pytest

from uqo.cli import main

from .conftest import PASSWORD


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


def _add(data, user, *extra, password=PASSWORD, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["users", "add", user, "--data-dir", str(data), *extra])


def test_users_add_prints_the_provisioning_uri(data, monkeypatch, capsys):
    rc = _add(data, "analyst-001", "--role", "analyst", "--clearance", "SECRET",
              "--compartment", "INTEL", "--password-stdin", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert rc == 0
    assert "added analyst-001: role analyst, clearance SECRET, compartments INTEL" in out
    assert "TOTP provisioning URI: otpauth://totp/uqo:analyst-001?" in out
    assert main(["users", "list", "--data-dir", str(data)]) == 0
    assert "analyst-001" in capsys.readouterr().out


def test_agents_get_a_generated_password(data, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "add", "agent-1", "--role", "agent", "--clearance", "1",
                 "--data-dir", str(data)]) == 0
    assert "generated password (shown once): " in capsys.readouterr().out


@pytest.mark.parametrize("args, named", [
    (["--role", "wizard", "--clearance", "SECRET"], "'wizard'"),
    (["--role", "analyst", "--clearance", "COSMIC"], "'COSMIC'"),
    (["--role", "analyst", "--clearance", "SECRET", "--allow-source", "10.0.0.0/99"],
     "10.0.0.0/99")])
def test_bad_input_exits_2_naming_the_value_and_changes_nothing(data, monkeypatch, capsys, args,
                                                                named):
    rc = _add(data, "analyst-001", *args, "--password-stdin", monkeypatch=monkeypatch)
    err = capsys.readouterr().err
    assert rc == 2 and named in err and "nothing changed" in err
    assert not (data / "users.json").exists()


def test_users_add_with_the_hsm(data, monkeypatch, capsys, hsm_token):
    monkeypatch.setenv("UQO_HSM_PIN", hsm_token.user_pin)
    rc = _add(data, "op-1", "--role", "operator", "--clearance", "SECRET", "--password-stdin",
              "--hsm-module", hsm_token.module, "--hsm-token", hsm_token.label,
              monkeypatch=monkeypatch)
    assert rc == 0
    keys = json.loads((data / "audit" / "keys.json").read_text())["keys"]
    assert keys[0]["algorithm"] == "ecdsa-p256-sha256"
    assert main(["audit", "verify", "--data-dir", str(data)]) == 0


def test_audit_verify_exit_status_and_pinpointing(data, monkeypatch, capsys):
    for i in range(3):
        _add(data, f"analyst-{i}", "--role", "analyst", "--clearance", "SECRET",
             "--password-stdin", monkeypatch=monkeypatch)
    capsys.readouterr()
    assert main(["audit", "verify", "--data-dir", str(data)]) == 0
    assert "INTACT" in capsys.readouterr().out
    log = data / "audit" / "log.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"analyst-1"', b'"analyst-9"', 1))
    assert main(["audit", "verify", "--data-dir", str(data), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["findings"][0]["kind"] == "changed"
    assert main(["audit", "verify", "--data-dir", str(data / "nope")]) == 2


def test_audit_verify_with_a_pinned_key(data, monkeypatch, capsys, tmp_path):
    _add(data, "analyst-1", "--role", "analyst", "--clearance", "SECRET", "--password-stdin",
         monkeypatch=monkeypatch)
    from uqo.security.softkeys import SoftwareSigner

    mine = SoftwareSigner.open_default(data)
    (tmp_path / "good.pem").write_text(mine.public_key_pem)
    other = SoftwareSigner.open(tmp_path / "other.json", b"other-passphrase")
    (tmp_path / "other.pem").write_text(other.public_key_pem)
    assert main(["audit", "verify", "--data-dir", str(data), "--public-key",
                 str(tmp_path / "good.pem")]) == 0
    assert main(["audit", "verify", "--data-dir", str(data), "--public-key",
                 str(tmp_path / "other.pem")]) == 1
    assert "unknown key" in capsys.readouterr().out
    (tmp_path / "junk.pem").write_text("junk")
    assert main(["audit", "verify", "--data-dir", str(data), "--public-key",
                 str(tmp_path / "junk.pem")]) == 2


def test_certs_init_and_refusal_to_overwrite(tmp_path, capsys):
    out = tmp_path / "pki"
    assert main(["certs", "init", "--out", str(out), "--agent", "agent-1", "--agent",
                 "agent-2", "--replicas", "1"]) == 0
    assert (out / "agent-2.pem").exists() and (out / "replica-1.key").exists()
    capsys.readouterr()
    assert main(["certs", "init", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["certs", "init", "--out", str(tmp_path / "x"), "--replicas", "-3"]) == 2
    assert "replicas" in capsys.readouterr().err


def test_compliance_report_writes_json_and_html(data, monkeypatch, capsys, pki, tmp_path):
    _add(data, "analyst-1", "--role", "analyst", "--clearance", "SECRET", "--password-stdin",
         monkeypatch=monkeypatch)
    rc = main(["compliance", "report", "--data-dir", str(data), "--certs", str(pki), "--out",
               str(tmp_path / "rep")])
    report = json.loads((tmp_path / "rep" / "compliance.json").read_text())
    assert rc == 0 and not report["summary"].get("fail")
    assert "<td>SC-8</td>" in (tmp_path / "rep" / "compliance.html").read_text()
    capsys.readouterr()
    assert main(["compliance", "report", "--data-dir", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_users_disable_enable_unlock_revoke_on_a_stopped_servers_directory(data, monkeypatch,
                                                                           capsys):
    from uqo.security.revocation import RevocationList
    from uqo.security.users import UserStore

    assert _add(data, "ana", "--role", "analyst", "--clearance", "SECRET", "--password-stdin",
                monkeypatch=monkeypatch) == 0
    epoch = RevocationList(data / "revoked.json").epoch("ana")
    for change in ("disable", "enable", "revoke", "unlock"):
        assert main(["users", change, "ana", "--data-dir", str(data)]) == 0, change
    out = capsys.readouterr().out
    assert "ana: disabled; its sessions revoked" in out and "0 lockout(s) cleared" in out
    assert RevocationList(data / "revoked.json").epoch("ana") == epoch + 3   # each ends them
    assert not UserStore(data / "users.json").get("ana").disabled
    kinds = [json.loads(line.split(b" ", 1)[1])["kind"]
             for line in (data / "audit" / "log.jsonl").read_bytes().splitlines()]
    assert kinds[-4:] == ["config.user_disable", "config.user_enable", "auth.revoke_user",
                          "config.user_unlock"]
    assert main(["users", "disable", "nobody", "--data-dir", str(data)]) == 2
    assert "unknown user 'nobody'; nothing changed" in capsys.readouterr().err


def test_audit_verify_with_a_missing_witness_exits_2(data, monkeypatch, capsys, tmp_path):
    _add(data, "ana", "--role", "analyst", "--clearance", "SECRET", "--password-stdin",
         monkeypatch=monkeypatch)
    rc = main(["audit", "verify", "--data-dir", str(data), "--witness", str(tmp_path / "no")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err
