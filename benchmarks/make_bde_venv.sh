#!/usr/bin/env bash
# The environment of `python -m benchmarks bde`'s peer: sklearn-contrib-bde in its own virtual
# environment (.venv-bde/, ignored by git). bde pins blackjax 1.2.2, so it is never installed
# beside bayesstack. Run from the checkout: bash benchmarks/make_bde_venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
"$PY" -m venv .venv-bde
.venv-bde/bin/pip install -q --upgrade pip
# jax 0.10 as bde's notes give it (pip would otherwise resolve the newest)
.venv-bde/bin/pip install -q "sklearn-contrib-bde==1.0.2" "jax==0.10.2" "jaxlib==0.10.2"
.venv-bde/bin/python -c "import bde, blackjax; print('bde ready; blackjax', blackjax.__version__)"
