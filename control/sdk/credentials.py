"""Logging in from a credential file (the bootstrap administrator's, or any user's).

Use cases::

    token = await login_with_file("http://127.0.0.1:8080", "uqo-data/admin-credential.json")
    async with UnifiedOrchestrator(url, credential=token) as uo: ...

The file is JSON ``{"user_id", "password", "totp_secret" (base32, or null)}``; the TOTP code
is computed from the secret at login (``cryptography``'s RFC 6238 TOTP). A code is accepted
once (replay protection), so log in once per process and share the token until it expires.
"""

from __future__ import annotations

import base64
import json
import time


def read_credential_file(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    if not isinstance(record, dict) or not isinstance(record.get("user_id"), str) \
            or not isinstance(record.get("password"), str):
        raise ValueError(f"{path}: expected JSON with string user_id and password")  # noqa: TRY004
    return record


def totp_now(secret_b32: str, when: float | None = None) -> str:
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    # SHA-1, 6 digits, 30 s: what the server enrols (and every authenticator app speaks)
    totp = TOTP(base64.b32decode(secret_b32), 6, SHA1(), 30, enforce_key_length=False)
    return totp.generate(int(time.time() if when is None else when)).decode("ascii")


def login_body(record: dict) -> dict:
    body = {"user_id": record["user_id"], "password": record["password"]}
    if record.get("totp_secret"):
        body["mfa_token"] = totp_now(record["totp_secret"])
    return body


async def login_with_file(base_url: str, path: str, ssl=None, level=None) -> str:
    """A bearer token for the user in ``path`` (``level``: the session's clearance, default
    the account's; ``ssl``: an ``ssl.SSLContext`` for an https server)."""
    from .client import UnifiedOrchestrator

    record = read_credential_file(path)
    body = login_body(record)
    context = None if level is None else {"clearance_required": level}
    async with UnifiedOrchestrator(base_url, ssl=ssl) as client:
        ok, session = await client.authenticate_user(
            user_id=body.pop("user_id"), credentials=body, context=context)
    if not ok:
        raise PermissionError(f"login as {record['user_id']!r} from {path} was refused")
    return session["token"]
