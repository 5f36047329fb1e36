#!/usr/bin/env bash
# Run HERE (with network) before a session that has a lent GPU machine: puts into .whl/ (git-
# ignored) the wheels that machine's image lacks, for its Python 3.12: uqo itself (built from
# this tree), array-api-compat, and dynamiqs (the peer comparison) with the dependencies the
# image does not already have. numpy, scipy, matplotlib, jax/jaxlib (CUDA build), cupy, pillow and
# tqdm come from the image: a second copy on PYTHONPATH would shadow its CUDA builds.
# The device command then installs them (docs/gpu.md, "On a lent GPU machine").
# Usage: bash bench/gpu_wheels.sh [DEST]      (default .whl; ~40 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
DEST="${1:-.whl}"
rm -rf "$DEST"
mkdir -p "$DEST"
"$PY" -m pip wheel -q --no-deps -w "$DEST" .
PLATFORM=(--only-binary=:all: --python-version 3.12 --implementation cp
          --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
          --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
          --platform manylinux2014_x86_64)
# dynamiqs 0.3.7 imports qutip and IPython at import time; the rest is its JAX stack. Pinned to
# the versions checked together (dynamiqs resolved on 2026-11-24).
"$PY" -m pip download -q --no-deps "${PLATFORM[@]}" -d "$DEST" \
  "array-api-compat>=1.9,<2" dynamiqs==0.3.7 qutip==5.3.1 equinox==0.13.8 jaxtyping==0.3.11 \
  diffrax==0.7.2 optimistix==0.1.0 lineax==0.1.1 wadler-lindig==0.1.8 cmap==0.8.0 \
  ipython==9.18.1 ipython-pygments-lexers==1.1.1 jedi==0.20.1 parso==0.8.7 \
  matplotlib-inline==0.2.2 pexpect==4.9.0 ptyprocess==0.7.0 prompt-toolkit==3.0.53 \
  wcwidth==0.9.4 stack-data==0.6.3 executing==2.3.0 asttokens==3.0.2 pure-eval==0.2.4 \
  traitlets==5.16.1
du -sh "$DEST"
ls "$DEST"
