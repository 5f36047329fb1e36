"""TLS on ``uqo serve`` with real sockets: on by default beyond loopback (a local CA made on the
first start), plain HTTP there only with ``--insecure`` (and a warning), agents over mutual
TLS with certificates from that CA."""

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from uqo.control.client.procs import ServerProcess
from uqo.control.server.tls import client_tls, is_loopback

from ..conftest import FAST

SETTINGS = {**FAST, "log_level": "warning"}


def _get(url, ctx=None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _local(url: str) -> str:
    return url.replace("0.0.0.0", "127.0.0.1")


def test_beyond_loopback_tls_is_on_with_the_servers_own_ca(tmp_path):
    data = str(tmp_path / "data")
    with ServerProcess(data, SETTINGS, host="0.0.0.0") as srv:
        assert srv.url.startswith("https://")
        for name in ("ca.pem", "ca.key", "server.pem", "server.key"):
            mode = os.stat(os.path.join(data, "tls", name)).st_mode & 0o777
            assert mode == 0o600, name
        url = _local(srv.url)
        assert _get(f"{url}/health/live", client_tls(data)) == (200, {"status": "live"})
        ctx = client_tls(data)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(urllib.error.URLError):               # TLS 1.2: refused
            _get(f"{url}/health/live", ctx)
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            _get(f"{url.replace('https', 'http')}/health/live")   # clear text: no answer
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _get(f"{url}/health/live", ssl.create_default_context())  # not a public CA


def test_plain_http_beyond_loopback_needs_insecure_and_warns(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    refused = subprocess.run([sys.executable, "-m", "uqo", "serve", "--host", "0.0.0.0",
                              "--port", "0", "--tls", "off", "--data-dir",
                              str(tmp_path / "a")], capture_output=True, text=True, env=env,
                             timeout=120, check=False)
    assert refused.returncode == 2 and "--insecure" in refused.stderr
    with ServerProcess(str(tmp_path / "b"), SETTINGS, host="0.0.0.0",
                       args=("--insecure",)) as srv:
        assert srv.url.startswith("http://")
        assert any("WARNING: plain HTTP on 0.0.0.0" in line for line in srv.lines)
        assert _get(f"{_local(srv.url)}/health/live")[0] == 200


def test_agents_authenticate_by_certificate_over_mutual_tls(tmp_path):
    data = str(tmp_path / "data")
    with ServerProcess(data, SETTINGS, args=("--tls", "on")) as srv:
        assert srv.url.startswith("https://127.0.0.1")
        admin = srv.token(3)
        body = json.dumps({"user_id": "agent-m", "role": "agent", "clearance": 1}).encode()
        req = urllib.request.Request(f"{srv.url}/v1/users", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {admin}",
                                              "Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10, context=srv.ssl_context()).close()
        for agent_id in ("agent-m", "agent-x"):
            req = urllib.request.Request(f"{srv.url}/v1/agents", method="POST",
                                         data=json.dumps({"agent_id": agent_id,
                                                          "security_clearance": 1}).encode(),
                                         headers={"Authorization": f"Bearer {admin}",
                                                  "Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10, context=srv.ssl_context()).close()
        out = subprocess.run([sys.executable, "-m", "uqo", "certs", "agent", "agent-m",
                              "--data-dir", data, "--out", str(tmp_path / "agent")],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        assert "agent-m.pem" in out
        mtls = client_tls(data, cert=str(tmp_path / "agent" / "agent-m.pem"),
                          key=str(tmp_path / "agent" / "agent-m.key"))
        assert _get(f"{srv.url}/v1/agents/agent-m/assignments", mtls) == (200, [])
        status, body = _get(f"{srv.url}/v1/agents/agent-x/assignments", mtls)
        assert (status, body["error"]["reason"]) == (403, "agent-self")
        status, body = _get(f"{srv.url}/v1/status", mtls)        # agents may not read it
        assert (status, body["error"]["reason"]) == (403, "role")


def test_mutual_tls_can_be_required(tmp_path):
    data = str(tmp_path / "data")
    with ServerProcess(data, SETTINGS, args=("--tls", "on", "--require-client-cert")) as srv, \
            pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        _get(f"{srv.url}/health/live", client_tls(data))         # no client certificate


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("::1", True),
                                        ("localhost", True), ("0.0.0.0", False),
                                        ("10.1.2.3", False), ("example.org", False)])
def test_loopback_detection(host, loop):
    assert is_loopback(host) is loop
