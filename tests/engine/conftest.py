"""Fixtures for the engine operation tests: one test body, every available backend.

``backend`` runs a test on numpy (the reference), JAX, and CuPy where a CUDA device exists; a
backend that cannot run here is skipped with the reason ``uqo backends`` would give.
"""

import pytest
from uqo.engine.backend import available_backends, get_backend


@pytest.fixture(scope="session", params=["numpy", "jax", "cupy"])
def backend(request):
    ok, why = available_backends(probe=True)[request.param]
    if not ok:
        pytest.skip(f"{request.param} backend not available: {why}")
    return get_backend(request.param)
