"""Where a data directory's signing key lives: a PKCS#11 token by default, recorded once.

Use cases::

    signer, note = provision(sec_dir, HsmConfig(mode="auto"), os.environ)  # server start
    signer = open_recorded(sec_dir, os.environ)      # the command line, on the same directory

``provision`` (``mode``: ``auto`` uses a token when a PKCS#11 module is installed, ``on``
requires one, ``off`` keeps the encrypted software keystore) records its choice in
``<sec_dir>/signer.json`` (module, token label, key label, SoftHSM configuration, where the PIN
comes from: never the PIN), so every later start, and ``uqo users``/``uqo audit`` on the same
directory, sign with the same key. The keys are generated on the token, non-extractable
(``Pkcs11Signer``), labelled ``uqo-<random>`` so several servers can share a token.

The PIN comes from an environment variable (``UQO_HSM_PIN``) or a PIN file, never from the
data directory (a PIN file inside it is refused): a copy of the data directory then holds no
key and nothing that opens one. With SoftHSM2 (the development HSM) and no token configured (no
``SOFTHSM2_CONF``, or one without a token labelled ``token``), ``provision`` makes a token
store of its own (``store``, default
``~/.local/share/uqo/softhsm``, outside the data directory), a random PIN in the PIN file
(default ``~/.config/uqo/hsm-pin``, mode 0600) and a token labelled ``token``, so ``make run``
needs no setup; a ``SOFTHSM2_CONF`` that has the token is used as is.
SoftHSM reads its configuration when first loaded in a process: ``provision`` sets
``SOFTHSM2_CONF`` before that.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass

from uqo.fsutil import atomic_write, ensure_private_dir

from .errors import InvalidArgument, SignerError
from .signing import ED25519, Signer

SIGNER_FILE = "signer.json"
PIN_ENV = "UQO_HSM_PIN"


@dataclass(frozen=True)
class HsmConfig:
    mode: str = "auto"                 # auto | on | off
    module: str | None = None          # default: SoftHSM2's, where installed
    token: str = "uqo"
    pin_file: str | None = None        # default ~/.config/uqo/hsm-pin
    store: str | None = None           # a SoftHSM2 token directory managed here


def _home(*parts: str) -> str:
    return os.path.join(os.path.expanduser("~"), *parts)


def _inside(path: str, directory: str) -> bool:
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory


def read_pin(env, pin_file: str | None, data_dir: str) -> str | None:
    """The PIN from ``env[UQO_HSM_PIN]`` or the PIN file (refused inside ``data_dir``)."""
    if env.get(PIN_ENV):
        return env[PIN_ENV]
    if pin_file and _inside(pin_file, data_dir):
        raise InvalidArgument("hsm_pin_file", f"{pin_file} lies inside the data directory "
                              f"{data_dir}: keep the PIN elsewhere (a copy of the data "
                              f"directory must not open the key)")
    if pin_file and os.path.exists(pin_file):
        with open(pin_file, encoding="utf-8") as fh:
            return fh.read().strip() or None
    return None


def _softhsm_conf(store: str) -> str:
    tokens = os.path.join(ensure_private_dir(store), "tokens")
    ensure_private_dir(tokens)
    conf = os.path.join(store, "softhsm2.conf")
    if not os.path.exists(conf):
        atomic_write(conf, (f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                            f"log.level = ERROR\nslots.removable = false\n").encode())
    return conf


def _token_exists(conf: str, label: str) -> bool:
    util = shutil.which("softhsm2-util")
    if util is None:
        raise SignerError("softhsm2-util is missing (Debian package softhsm2)")
    out = subprocess.run([util, "--show-slots"], env={**os.environ, "SOFTHSM2_CONF": conf},
                         capture_output=True, text=True, check=False, timeout=60).stdout
    return any(line.split(":", 1)[1].strip() == label
               for line in out.splitlines() if line.strip().startswith("Label:"))


def _init_token(conf: str, label: str, pin: str) -> None:
    util = shutil.which("softhsm2-util")
    args = [util, "--init-token", "--free", "--label", label, "--so-pin",
            secrets.token_hex(16), "--pin", pin]           # the SO PIN is not kept
    result = subprocess.run(args, env={**os.environ, "SOFTHSM2_CONF": conf}, check=False,
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SignerError(f"softhsm2-util --init-token failed: {result.stderr.strip()}")


def _module(cfg: HsmConfig) -> str | None:
    if cfg.module:
        if not os.path.exists(cfg.module):
            raise SignerError(f"PKCS#11 module {cfg.module} does not exist")
        return cfg.module
    from .softhsm import find_module

    try:
        return find_module()
    except SignerError:
        return None


def provision(sec_dir: str, cfg: HsmConfig, env) -> tuple[Signer, str]:
    """The signer of ``sec_dir`` and a line saying where its key lives."""
    sec_dir = ensure_private_dir(sec_dir)
    record = read_record(sec_dir)
    if record is not None:
        return open_recorded(sec_dir, env), describe_record(record)
    if cfg.mode == "off":
        return _software(sec_dir, "hsm = off")
    if cfg.mode == "auto" and os.path.exists(os.path.join(sec_dir, "keystore.json")):
        return _software(sec_dir, "an existing software keystore is kept (hsm = on moves "
                                  "new keys to a token)")
    module = _module(cfg)
    if module is None:
        if cfg.mode == "on":
            raise SignerError("hsm = on but no PKCS#11 module is installed (install softhsm2, "
                              "or give hsm_module)")
        return _software(sec_dir, "WARNING: no PKCS#11 module installed; the signing key is "
                                  "in the software keystore")
    record = _new_record(sec_dir, cfg, module, env)
    atomic_write(os.path.join(sec_dir, SIGNER_FILE),
                 json.dumps(record, indent=1, sort_keys=True).encode() + b"\n")
    return open_recorded(sec_dir, env), describe_record(record)


def _new_record(sec_dir: str, cfg: HsmConfig, module: str, env) -> dict:
    pin_file = cfg.pin_file or _home(".config", "uqo", "hsm-pin")
    conf = None
    softhsm = "softhsm" in os.path.basename(module)
    external = env.get("SOFTHSM2_CONF")
    if softhsm and (cfg.store or not external or not _token_exists(external, cfg.token)):
        store = cfg.store or _home(".local", "share", "uqo", "softhsm")
        if _inside(store, os.path.dirname(os.path.abspath(sec_dir))):
            raise InvalidArgument("hsm_store", f"{store} lies inside the data directory")
        conf = _softhsm_conf(store)
        pin = read_pin(env, pin_file, os.path.dirname(os.path.abspath(sec_dir)))
        if pin is None:
            pin = secrets.token_hex(16)
            ensure_private_dir(os.path.dirname(os.path.abspath(pin_file)))
            atomic_write(pin_file, pin.encode() + b"\n")
        if not _token_exists(conf, cfg.token):
            _init_token(conf, cfg.token, pin)
    return {"backend": "pkcs11", "module": module, "token": cfg.token,
            "key_label": f"uqo-{secrets.token_hex(6)}", "softhsm2_conf": conf,
            "pin_file": pin_file, "pin_env": PIN_ENV, "algorithm": ED25519}


def _software(sec_dir: str, why: str) -> tuple[Signer, str]:
    from .softkeys import SoftwareSigner

    return SoftwareSigner.open_default(sec_dir), f"software keystore ({why})"


def read_record(sec_dir: str) -> dict | None:
    path = os.path.join(sec_dir, SIGNER_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
        if record["backend"] != "pkcs11":
            raise ValueError(f"unknown backend {record['backend']!r}")
        return record
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SignerError(f"cannot read {path}: {exc}") from None


def describe_record(record: dict) -> str:
    return (f"PKCS#11 token {record['token']!r} ({record['module']}), key "
            f"{record['key_label']}.* (non-extractable)")


def open_recorded(sec_dir: str, env) -> Signer:
    """The signer ``signer.json`` records (a PKCS#11 key), or the software keystore."""
    record = read_record(sec_dir)
    if record is None:
        from .softkeys import SoftwareSigner

        return SoftwareSigner.open_default(sec_dir)
    if record.get("softhsm2_conf"):
        os.environ["SOFTHSM2_CONF"] = record["softhsm2_conf"]   # before the module loads
    data_dir = os.path.dirname(os.path.abspath(sec_dir))
    pin = read_pin(env, record.get("pin_file"), data_dir)
    if pin is None:
        raise SignerError(f"the token PIN is needed: set {PIN_ENV} or write it to "
                          f"{record.get('pin_file')}")
    from .pkcs11keys import Pkcs11Signer

    return Pkcs11Signer(record["module"], record["token"], pin, record["key_label"],
                        record.get("algorithm", ED25519))
