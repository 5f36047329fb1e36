"""Fixtures shared by tests/ops."""

import pytest

from ._k8spki import make_secret


@pytest.fixture(scope="session")
def k8s_secret(tmp_path_factory) -> tuple[dict, dict]:
    """(the Secret uqo-pki as kustomize would make it, key -> file our CLI wrote)."""
    return make_secret(tmp_path_factory.mktemp("k8s") / "pki")
