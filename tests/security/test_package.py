"""Package boundaries: security uses nothing of control or engine (checked in a fresh process),
and the control plane's app runs with our middleware in front of every non-public route."""

import subprocess
import sys

from aiohttp.test_utils import TestClient, TestServer
from uqo.security.http import auth_middleware


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
