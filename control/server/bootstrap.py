"""Security for a server's data directory: open the framework with the configured key, and on
the first start of an empty directory enrol an administrator.

Use cases::

    fw, admin_file, key_note = open_security(data_dir, cfg, os.environ)
    token = await login_with_file(base_url, admin_file)    # SDK side, see credentials.py

The framework lives in ``<data_dir>/security``; its signing key on a PKCS#11 token when one is
installed (``uqo.security.hsm``). The administrator ``admin`` gets a random password and a TOTP
secret (admins must use a second factor); both are written, with the provisioning URI for an
authenticator app, to ``<data_dir>/admin-credential.json`` (mode 0600), and that file is
**deleted after the first successful login as admin** (the login is audited, the deletion
too): it is a one-time hand-over, not a place the password lives. Enrol more users with
``POST /v1/users`` or ``uqo users add --data-dir <data_dir>/security`` (server stopped).
"""

from __future__ import annotations

import json
import os
import secrets

ADMIN_FILE = "admin-credential.json"


def security_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "security")


def open_security(data_dir: str, cfg=None, env=None):
    """``(SecurityFramework, path of a newly written admin credential file or None, a line
    saying where the signing key lives)``. ``cfg``: the server's settings (HSM, witness);
    without one, the software keystore (in-process uses, tests)."""
    from uqo.security import SecurityFramework
    from uqo.security.hsm import HsmConfig, provision

    hsm = HsmConfig(mode="off") if cfg is None else HsmConfig(
        cfg.hsm, cfg.hsm_module, cfg.hsm_token, cfg.hsm_pin_file, cfg.hsm_store)
    signer, note = provision(security_dir(data_dir), hsm, os.environ if env is None else env)
    witness = None if cfg is None else cfg.audit_witness
    if witness and os.path.commonpath([os.path.realpath(witness),
                                       os.path.realpath(data_dir)]) == os.path.realpath(data_dir):
        signer.close()
        from uqo.control.config import ConfigError

        raise ConfigError(f"audit_witness {witness} lies inside the data directory: a witness "
                         f"must be kept where a copy of the data directory is not")
    fw = SecurityFramework(security_dir(data_dir), signer, _settings(cfg), witness=witness,
                           owns_signer=True)
    path = os.path.join(data_dir, ADMIN_FILE)
    fw.login_listeners.append(_forget_on_first_login(fw, path))
    if len(fw.users):
        return fw, None, note
    return fw, _bootstrap_admin(fw, path), note


def _settings(cfg):
    """The security settings a server runs with: the defaults, with the login rate limit
    from its configuration."""
    from uqo.security.settings import AuthPolicy, SecuritySettings

    if cfg is None:
        return None
    return SecuritySettings(auth=AuthPolicy(source_burst=cfg.login_burst,
                                            source_refill_per_s=cfg.login_refill_per_s))


def _bootstrap_admin(fw, path: str) -> str:
    password = secrets.token_urlsafe(24)
    enrolment = fw.add_user("admin", role="admin", clearance="TOP_SECRET", password=password,
                            actor="bootstrap", bump=False)
    # bump=False: an empty directory's first account has no earlier tokens to end, and a
    # bump would be a local epoch, which keeps a follower from taking the tokens other
    # replicas issue for "admin" until it leads (see uqo.security.tokens)
    record = {"user_id": "admin", "password": password,
              "totp_secret": enrolment.totp_secret,       # base32, as authenticator apps use
              "provisioning_uri": enrolment.provisioning_uri,
              "note": "deleted by the server after the first successful login as admin"}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    return path


def _forget_on_first_login(fw, path: str):
    def listener(cred) -> None:
        if cred.user_id == "admin" and os.path.exists(path):
            os.remove(path)
            fw.trail.background("config.bootstrap_credential", "admin", "info",
                                {"removed": os.path.basename(path)})
    return listener
