#!/usr/bin/env bash
# Create .venv (CPU PyTorch 2.13.0, pinned: an unpinned torch pulls a multi-GB CUDA build) and install the
# package editable with the extras named by the first argument (default: dicom,onnx). Idempotent.
# Usage: bash scripts/setup_env.sh [test|run]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
python3 -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q "torch==2.13.0"
case "$mode" in
    test) extras="test,dev" ;;
    *) extras="dicom,onnx" ;;
esac
pip install -q -e ".[${extras}]" "torch==2.13.0"
if [ "$mode" = test ] && [ -f scripts/ci_system_deps.sh ]; then
    bash scripts/ci_system_deps.sh || echo "warning: optional system tools (dcm2niix, dicom3tools) not installed; their tests skip"
fi
