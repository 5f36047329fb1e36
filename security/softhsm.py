"""A SoftHSM2 token in a directory of our own (tests, benchmarks, development).

Use cases::

    token = init_token(tmp_dir / "hsm", label="uqo-test", user_pin="87654321")
    use_token(token)                   # sets SOFTHSM2_CONF: call before the module is loaded
    signer = Pkcs11Signer(token.module, token.label, token.user_pin)

SoftHSM reads ``SOFTHSM2_CONF`` once, when the library is initialised in a process; a second
token directory in the same process is not seen. ``init_token`` wipes the directory's token
store first (initialising a label twice would make two tokens with one label).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from .errors import InvalidArgument, SignerError

MODULE_PATHS = ("/usr/lib/softhsm/libsofthsm2.so",
                "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
                "/usr/local/lib/softhsm/libsofthsm2.so")
_MISSING = ("SoftHSM2 is not installed (no libsofthsm2.so / softhsm2-util); run "
            "scripts/setup-system.sh (Debian package softhsm2) or `make test`, which does")


def find_module() -> str:
    for path in MODULE_PATHS:
        if os.path.exists(path):
            return path
    raise SignerError(_MISSING)


@dataclass(frozen=True)
class SoftHsmToken:
    directory: str
    conf_path: str
    label: str
    user_pin: str
    so_pin: str
    module: str


def init_token(directory, label: str = "uqo", user_pin: str = "87654321",
               so_pin: str = "12345678") -> SoftHsmToken:
    """Create (or wipe and re-create) a token store in ``directory`` with one token."""
    for name, pin in (("user_pin", user_pin), ("so_pin", so_pin)):
        if not isinstance(pin, str) or not 4 <= len(pin) <= 255:
            raise InvalidArgument(name, "must be 4..255 characters (shorter PINs prompt)")
    module, util = find_module(), shutil.which("softhsm2-util")
    if util is None:
        raise SignerError(_MISSING)
    directory = os.path.abspath(os.fspath(directory))
    tokens = os.path.join(directory, "tokens")
    shutil.rmtree(tokens, ignore_errors=True)
    os.makedirs(tokens, mode=0o700)
    conf = os.path.join(directory, "softhsm2.conf")
    with open(conf, "w", encoding="utf-8") as fh:
        fh.write(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                 f"log.level = ERROR\nslots.removable = false\n")
    args = [util, "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin",
            user_pin]
    result = subprocess.run(args, env={**os.environ, "SOFTHSM2_CONF": conf}, check=False,
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SignerError(f"softhsm2-util --init-token failed: {result.stderr.strip()}")
    return SoftHsmToken(directory, conf, label, user_pin, so_pin, module)


def use_token(token: SoftHsmToken) -> None:
    """Point SoftHSM at ``token``'s store for this process (before the first PKCS#11 call)."""
    os.environ["SOFTHSM2_CONF"] = token.conf_path
