#!/usr/bin/env bash
# Set up (idempotent) and run the test suite: lint, bundle verification, pytest (not the `slow` tests).
# Usage: bash scripts/run_tests.sh [extra pytest args]     e.g. `-m slow` for the long tests
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
