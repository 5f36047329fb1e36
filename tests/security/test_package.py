"""Package boundaries: security uses nothing of control or engine (checked in a fresh process),
and the control plane's app runs with our middleware in front of every non-public route."""

import subprocess
import sys

from aiohttp.test_utils import TestClient, TestServer


def test_security_imports_nothing_of_control_or_engine():
    code = ("import sys\n"
            "import uqo.security as s\n"
            "for name in ('framework', 'http', 'tls', 'certs', 'compliance', 'compliance_html',"
            " 'pkcs11keys', 'signerconfig', 'softhsm'):\n"
            "    __import__('uqo.security.' + name)\n"
            "bad = sorted(m for m in sys.modules if m.startswith(('uqo.control', 'uqo.engine',"
            " 'uqo.kernels')))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


async def test_the_control_api_requires_a_credential(tmp_path, fw, clock):
    from uqo.control.api.app import build_app
    from uqo.control.config import load_config
    from uqo.control.leader.service import Orchestrator

    cfg = load_config(overrides={"capacity": 64, "backend": "numpy", "tick_interval_s": 0.1,
                                 "schedule_interval_s": 0.01, "data_dir": str(tmp_path / "c")})
    app = build_app(Orchestrator(cfg), security=fw)
    import base64

    from uqo.security.totp import code_at

    enrolment = fw.add_user("op-analyst", role="analyst", clearance="SECRET",
                            password="correct horse battery staple")
    creds = {"password": "correct horse battery staple",
             "mfa_token": code_at(base64.b32decode(enrolment.totp_secret), clock.now)}
    token = (await fw.login("op-analyst", creds, "127.0.0.1")).token
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/health/live")).status == 200
        denied = await client.get("/v1/status")
        assert denied.status == 401
        assert (await denied.json())["error"]["code"] == "unauthenticated"
        bad = await client.get("/v1/status", headers={"Authorization": "Bearer uqo1.x.y"})
        assert bad.status == 401
        ok = await client.get("/v1/status", headers={"Authorization": f"Bearer {token}"})
        assert ok.status == 200
        security = (await ok.json())["security"]
    assert security["authentication"] == "enabled"
    assert security["security_events_24h"] == fw.security_events_24h() >= 1
