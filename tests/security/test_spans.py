"""Signature spans (``security/spans.py``): each ``sign()`` of the software keystore and of a
PKCS#11 token (a real SoftHSM2 one) is a ``keys.sign`` span naming backend, algorithm and key
id, and nothing of the data or the signature. Run in a fresh process whose global provider
records spans (a provider is installed once per process; this one keeps the no-op)."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = r"""
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from uqo.security.softhsm import init_token, use_token

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

base = sys.argv[1]
token = init_token(base + "/hsm", label="uqo-spans", user_pin="87654321", so_pin="12345678")
use_token(token)
from uqo.security.pkcs11keys import Pkcs11Signer
from uqo.security.softkeys import SoftwareSigner

soft = SoftwareSigner.open(base + "/keys/keystore.json", b"test-passphrase", "ed25519")
hsm = Pkcs11Signer(token.module, token.label, token.user_pin, "spans", "ecdsa-p256-sha256")
signatures = [soft.sign(b"secret tree head").hex(), hsm.sign(b"secret tree head").hex()]
hsm.close()
print(json.dumps({"spans": [{"name": s.name, "attributes": dict(s.attributes),
                             "events": [e.name for e in s.events]}
                            for s in exporter.get_finished_spans()],
                  "keys": [soft.key_id, hsm.key_id], "signatures": signatures}))
"""


def test_each_signature_is_a_span_naming_backend_algorithm_and_key(tmp_path):
    out = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    soft_key, hsm_key = seen["keys"]
    assert [(s["name"], s["attributes"]) for s in seen["spans"]] == [
        ("keys.sign", {"uqo.keys.backend": "software", "uqo.keys.algorithm": "ed25519",
                       "uqo.keys.key_id": soft_key}),
        ("keys.sign", {"uqo.keys.backend": "pkcs11", "uqo.keys.algorithm": "ecdsa-p256-sha256",
                       "uqo.keys.key_id": hsm_key})]
    text = json.dumps(seen["spans"])
    assert "tree head" not in text and not any(sig in text for sig in seen["signatures"])
