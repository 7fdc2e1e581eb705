#!/usr/bin/env bash
# Set up (idempotent) and run the test suite: lint, bundle verification, pytest (not the `slow` tests), then
# the MONAI Label stage: its own venv (cached under ~/.cache/cranialseg) and real-server tests (MONAI Label +
# Orthanc on 127.0.0.1). CRANIALSEG_SKIP_LABEL=1 skips that stage.
# Usage: bash scripts/run_tests.sh [pytest args]     e.g. `-m slow` for the long tests
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh test
. .venv/bin/activate
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONUNBUFFERED=1

echo "== ruff"
ruff check .
ruff format --check .

if [ -f scripts/verify_bundle.py ]; then
    echo "== bundle verification"
    for b in bundle/*/; do
        python scripts/verify_bundle.py "$b"
    done
fi

echo "== pytest"
if [ "$#" -eq 0 ]; then set -- -m "not slow"; fi
python -m pytest -n "${PYTEST_WORKERS:-2}" --durations=15 "$@"

if [ "${CRANIALSEG_SKIP_LABEL:-0}" != "1" ]; then
    echo "== MONAI Label: environment and real-server tests (a first run builds a ~3.7 GB venv under ~/.cache/cranialseg," \
        "several minutes; CRANIALSEG_SKIP_LABEL=1 skips this stage)"
    bash scripts/ci_label_deps.sh || echo "warning: orthanc / orthanc-dicomweb not installed; the DICOMweb tests skip"
    export CRANIALSEG_LABEL_VENV="${CRANIALSEG_LABEL_VENV:-$HOME/.cache/cranialseg/venv-label}"
    bash scripts/setup_label_env.sh
    python -m pytest tests/label -m slow -p no:xdist -q --durations=10
fi
