"""Real etcd clusters and real ``uqo serve`` replicas. ``scripts/setup-system.sh`` installs
Debian's etcd-server (``make test`` runs it), so a missing etcd is a broken setup: it fails."""

import pytest
from uqo.control.client.etcdproc import etcd_binary

if etcd_binary() is None:
    raise pytest.UsageError("etcd is not installed: run scripts/setup-system.sh "
                            "(make test runs it)")
