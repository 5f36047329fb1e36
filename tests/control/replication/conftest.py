"""Real etcd clusters and real ``uqo serve`` replicas; skipped only where etcd is not installed
(``scripts/setup-system.sh`` installs Debian's etcd-server; CI runs it)."""

import pytest
from uqo.control.client.etcdproc import etcd_binary

if etcd_binary() is None:
    pytest.skip("etcd is not installed (run scripts/setup-system.sh)", allow_module_level=True)
