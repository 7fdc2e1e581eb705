#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv (CPU torch 2.13.0), train the default head CT bundle on the
# embedded demo data (generated on first use, nothing is downloaded), then run batch inference on the demo
# DICOM series and NIfTI test volumes. Outputs land in outputs/quickstart/ (the trained model in
# outputs/quickstart/models/: the bundle's shipped models/model.pt is left as it is).
# The demo run is short on purpose: it fine-tunes the shipped weights for 2 epochs on 12 demo phantoms at the
# bundle's 1 mm recipe, on the CPU; the shipped weights' own recipe is train.json as it is, from scratch on the 96
# default phantoms (`--pretrained null --num_demo_cases 96 --max_epochs 60`: 66 min on 2 cores; see the bundle's
# docs/README.md).
# Usage: bash scripts/quickstart.sh [extra `monai.bundle run training` overrides, e.g. --max_epochs 4]
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
    --ckpt_dir "$MODELS" --num_demo_cases 12 --pretrained "$B/models/model.pt" --learning_rate 0.0003 \
    --max_epochs 2 --val_interval 1 "$@"

echo "== inference on the phantoms training never saw: their DICOM series and a NIfTI volume"
# the validation and test cases of the demo datalist, copied into one input folder per format (the others were
# trained on; every case costs about 30-50 s on 2 CPU cores at the 1 mm recipe)
IN="$PWD/outputs/quickstart/inputs"
rm -rf "$IN" && mkdir -p "$IN/dicom" "$IN/nifti"
python - "$B/data" "$IN" <<'PY'
import json, shutil, sys
from pathlib import Path

data, dst = Path(sys.argv[1]), Path(sys.argv[2])
sections = json.loads((data / "datalist.json").read_text())
unseen = [Path(item["image"]).name.split(".")[0] for key in ("validation", "test") for item in sections.get(key, [])]
for i, case in enumerate(unseen):
    if (data / "dicom" / case).is_dir():
        shutil.copytree(data / "dicom" / case, dst / "dicom" / case)
    if i == len(unseen) - 1:  # one NIfTI volume as well
        shutil.copy(data / "images" / f"{case}.nii.gz", dst / "nifti" / f"{case}.nii.gz")
print(f"unseen cases: {', '.join(unseen)}")
PY
for kind in dicom nifti; do
    python -m monai.bundle run \
        --meta_file "$B/configs/metadata.json" \
        --config_file "$B/configs/inference.json" \
        --logging_file "$B/configs/logging.conf" \
        --ckpt_dir "$MODELS" \
        --input_dir "$IN/$kind" --output_dir "outputs/quickstart/$kind" --overwrite true
done
echo "== done: see outputs/quickstart/*/run_summary.json"
