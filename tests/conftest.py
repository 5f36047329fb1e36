"""Session-wide settings for every test directory."""

import os

# On a GPU, JAX takes 75% of the device's memory at its first use unless told otherwise; CuPy
# tests in the same process (or pytest-xdist workers beside it) would then run out of memory.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
