"""Security for a server's data directory: open the framework, and on the first start of an
empty directory enrol an administrator whose credential goes to a 0600 file.

Use cases::

    fw, admin_file = open_security(data_dir)   # admin_file: path on first start, else None
    token = await login_with_file(base_url, admin_file)    # SDK side, see credentials.py

The framework lives in ``<data_dir>/security``. The administrator ``admin`` gets a random
password and a TOTP secret (admins must use a second factor); both are written, with the
provisioning URI for an authenticator app, to ``<data_dir>/admin-credential.json`` (mode 0600).
Enrol more users with ``uqo users add --data-dir <data_dir>/security``.
"""

from __future__ import annotations

import json
import os
import secrets

ADMIN_FILE = "admin-credential.json"


def security_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "security")


def open_security(data_dir: str):
    """``(SecurityFramework, path of a newly written admin credential file or None)``."""
    from uqo.security import SecurityFramework

    fw = SecurityFramework(security_dir(data_dir))
    if len(fw.users):
        return fw, None
    return fw, _bootstrap_admin(fw, data_dir)


def _bootstrap_admin(fw, data_dir: str) -> str:
    password = secrets.token_urlsafe(24)
    enrolment = fw.add_user("admin", role="admin", clearance="TOP_SECRET", password=password,
                            actor="bootstrap")
    record = {"user_id": "admin", "password": password,
              "totp_secret": enrolment.totp_secret,       # base32, as authenticator apps use
              "provisioning_uri": enrolment.provisioning_uri}
    path = os.path.join(data_dir, ADMIN_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    return path
