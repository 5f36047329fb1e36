"""``uqo bench security``: signatures/s on a SoftHSM2 token (ECDSA P-256, Ed25519) and with the
software keystore, Argon2id time per hash, and audit-log appends/s with a signed checkpoint
every N records (each append fsync'd).

Every figure is the median of ``repeats`` timed runs. The token is initialised in a temporary
directory (SoftHSM2 must be installed: scripts/setup-system.sh). Audit appends go to a temporary
directory whose filesystem is recorded, since fsync cost depends on it. JSON goes to
``bench/results/security.json`` with the machine it ran on.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from .machine import machine_info


def _rates(fn, n: int, repeats: int) -> list[float]:
    """Calls per second of ``fn`` over ``repeats`` runs of ``n`` calls each."""
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rates.append(n / (time.perf_counter() - t0))
    return rates


def _fs_type(path: str) -> str:
    best, kind = "", "unknown"
    with open("/proc/mounts", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if path.startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


def bench_signers(tmp: str, n: int, repeats: int) -> list[dict]:
    from uqo.security.pkcs11keys import Pkcs11Signer
    from uqo.security.signing import ECDSA_P256, ED25519, verify_signature
    from uqo.security.softhsm import init_token, use_token
    from uqo.security.softkeys import SoftwareSigner

    token = init_token(os.path.join(tmp, "hsm"), label="uqo-bench")
    use_token(token)
    message = os.urandom(64)
    rows = []
    for alg in (ECDSA_P256, ED25519):
        hsm = Pkcs11Signer(token.module, token.label, token.user_pin, f"bench-{alg}", alg)
        soft = SoftwareSigner.open(os.path.join(tmp, f"ks-{alg}.json"), b"bench-passphrase", alg)
        for name, signer in (("softhsm2", hsm), ("software", soft)):
            verify_signature(signer.public_key_pem, alg, message, signer.sign(message))
            rates = _rates(lambda s=signer: s.sign(message), n, repeats)
            rows.append({"backend": name, "algorithm": alg, "signs": n, "repeats": repeats,
                         "signs_per_s": round(statistics.median(rates), 1),
                         "runs": [round(r, 1) for r in rates]})
        hsm.close()
    return rows


def bench_argon2(repeats: int) -> list[dict]:
    from uqo.security.passwords import Argon2Params, hash_password, verify_password

    rows = []
    for label, params in (("default", Argon2Params()), ("owasp_minimum",
                                                        Argon2Params.owasp_minimum())):
        times, phc = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            phc = hash_password("correct horse battery staple", params)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verify_password("correct horse battery staple", phc)
        rows.append({"params": label, "memory_kib": params.memory_kib,
                     "iterations": params.iterations, "lanes": params.lanes,
                     "repeats": repeats, "hash_ms_median": round(statistics.median(times) * 1e3,
                                                                 1),
                     "verify_ms": round((time.perf_counter() - t0) * 1e3, 1)})
    return rows


def bench_audit(tmp: str, n: int, repeats: int, every: list[int]) -> list[dict]:
    from uqo.security.auditlog import AuditLog
    from uqo.security.softkeys import SoftwareSigner

    signer = SoftwareSigner.open(os.path.join(tmp, "ks-audit.json"), b"bench-passphrase")
    rows = []
    for k in every:
        rates = []
        for r in range(repeats):
            log = AuditLog(os.path.join(tmp, f"audit-{k}-{r}"), signer, checkpoint_every=k)
            t0 = time.perf_counter()
            for i in range(n):
                log.append("bench.event", "bench", "info", {"i": i, "resource": "tasks"})
            rates.append(n / (time.perf_counter() - t0))
            intact = log.verify().ok
            log.close()
            if not intact:
                raise RuntimeError("benchmark log failed verification")
        rows.append({"checkpoint_every": k, "signer": f"software {signer.algorithm}",
                     "appends": n, "repeats": repeats,
                     "appends_per_s": round(statistics.median(rates), 1),
                     "runs": [round(r, 1) for r in rates]})
    return rows


def main(out: Path, quick: bool = False) -> int:
    n_sign, n_audit, reps = (300, 200, 3) if quick else (3000, 2000, 5)
    with tempfile.TemporaryDirectory(prefix="uqo-bench-security-") as tmp:
        result = {"machine": machine_info(), "quick": quick, "audit_fs": _fs_type(tmp),
                  "signatures": bench_signers(tmp, n_sign, reps),
                  "argon2id": bench_argon2(3 if quick else 5),
                  "audit": bench_audit(tmp, n_audit, reps, [1, 10, 100, 1000])}
    _print(result)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "security.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


def _print(result: dict) -> None:
    print(f"{'backend':<10} {'algorithm':<18} {'signs/s':>10}")
    for r in result["signatures"]:
        print(f"{r['backend']:<10} {r['algorithm']:<18} {r['signs_per_s']:>10.0f}")
    print(f"\n{'argon2id':<14} {'m KiB':>7} {'t':>3} {'hash ms':>9} {'verify ms':>10}")
    for r in result["argon2id"]:
        print(f"{r['params']:<14} {r['memory_kib']:>7} {r['iterations']:>3} "
              f"{r['hash_ms_median']:>9.1f} {r['verify_ms']:>10.1f}")
    print(f"\naudit appends (fsync each, filesystem {result['audit_fs']})")
    print(f"{'sign every':>10} {'appends/s':>10}   runs")
    for r in result["audit"]:
        runs = " ".join(f"{x:.0f}" for x in r["runs"])
        print(f"{r['checkpoint_every']:>10} {r['appends_per_s']:>10.0f}   {runs}")
