#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv (CPU torch 2.13.0), train the default head CT bundle on the
# embedded demo data (generated on first use, nothing is downloaded), then run batch inference on the demo
# DICOM series and NIfTI test volumes. Outputs land in outputs/quickstart/ (the trained model in
# outputs/quickstart/models/: the bundle's shipped models/model.pt is left as it is).
# The demo run is short on purpose (12 phantoms, 4 epochs at the bundle's 1 mm recipe, on the CPU); the shipped
# weights come from the bundle's full recipe on a GPU (see the bundle's docs/README.md).
# Usage: bash scripts/quickstart.sh [extra `monai.bundle run training` overrides, e.g. --max_epochs 30]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh run
. .venv/bin/activate
B=bundle/head_ct_haemorrhage_segmentation
MODELS="$PWD/outputs/quickstart/models"

echo "== training ($B) on the demo data"
python -m monai.bundle run training \
    --meta_file "$B/configs/metadata.json" \
    --config_file "$B/configs/train.json" \
    --logging_file "$B/configs/logging.conf" \
    --ckpt_dir "$MODELS" --num_demo_cases 12 --max_epochs 4 --val_interval 2 "$@"

echo "== inference on the demo DICOM series and NIfTI volumes"
for pair in dicom:dicom images:nifti; do  # <data folder>:<output folder>
    python -m monai.bundle run \
        --meta_file "$B/configs/metadata.json" \
        --config_file "$B/configs/inference.json" \
        --logging_file "$B/configs/logging.conf" \
        --ckpt_dir "$MODELS" \
        --input_dir "$B/data/${pair%%:*}" --output_dir "outputs/quickstart/${pair#*:}" --overwrite true
done
echo "== done: see outputs/quickstart/*/run_summary.json"
