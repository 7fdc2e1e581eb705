#!/usr/bin/env bash
# HC18 on one GPU: the fetal-head bundle's shipped weights, then the five-network side by side.
#
# Run from the repository root with the 384-px copy of HC18 in DATA (scripts/prepare_hc18.py --max-size 384
# --sections training validation) and an output folder OUT:
#   DATA=.gpu/hc18 OUT=/tmp/out bash scripts/hc18_gpu.sh [bundle|bench|all]
# Needs python3 with torch (CUDA), monai, nibabel, pydicom, pytorch-ignite, scikit-image, pillow; cranialseg is
# used from this checkout (installed, or put on PYTHONPATH through a copy under .gpu/shim when not installed).
# TensorBoard and the progress bar are switched off (not needed, and tensorboard may be missing).
# Outputs: OUT/model.pt (bundle weights), OUT/bundle_train.log, OUT/bench/<network>/{model.pt,run.json},
# OUT/bench/logs, OUT/bench/training_summary.json. Scoring runs elsewhere on CPU (benchmark_hc18.py --score-only).
set -u
DATA=${DATA:-.gpu/hc18}
OUT=${OUT:?set OUT to the output folder}
WHAT=${1:-all}
PY=${PYTHON:-python3}
B=bundle/fetal_head_us_segmentation/configs
mkdir -p "$OUT"
if ! $PY -c "import cranialseg.networks" 2>/dev/null; then
    rm -rf .gpu/shim && mkdir -p .gpu/shim
    cp -r cranialseg .gpu/shim/cranialseg && cp -r networks .gpu/shim/cranialseg/networks
    cp -r transforms .gpu/shim/cranialseg/transforms
    export PYTHONPATH="$PWD/.gpu/shim${PYTHONPATH:+:$PYTHONPATH}"
fi
$PY -c "import torch, monai, cranialseg.networks; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'monai', monai.__version__)"
if [ "$WHAT" = bundle ] || [ "$WHAT" = all ]; then
    start=$(date +%s)
    timeout "${BUNDLE_TIMEOUT:-300}" $PY -m monai.bundle run training --meta_file $B/metadata.json \
        --config_file $B/train.json --logging_file $B/logging.conf --data_dir "$DATA" \
        --num_workers "${WORKERS:-12}" --ckpt_dir .gpu/bundle_models --output_dir .gpu/bundle_eval \
        "--train#handlers#5#_disabled_" true "--train#handlers#6#_disabled_" true \
        "--validate#handlers#1#_disabled_" true ${BUNDLE_ARGS:-} > "$OUT/bundle_train.log" 2>&1
    echo "bundle training rc=$? in $(( $(date +%s) - start )) s"
    cp .gpu/bundle_models/model.pt "$OUT/model.pt" 2>/dev/null || echo "no model.pt"
    grep -v "Loading dataset" "$OUT/bundle_train.log" | grep -E "val_mean_dice|Error|rror:" | tail -15
fi
if [ "$WHAT" = bench ] || [ "$WHAT" = all ]; then
    start=$(date +%s)
    timeout "${BENCH_TIMEOUT:-330}" $PY scripts/benchmark_hc18.py --data "$DATA" --device cuda \
        --epochs "${BENCH_EPOCHS:-30}" --batch-size 16 --parallel --max-minutes "${BENCH_MINUTES:-2.5}" \
        --workdir .gpu/bench > "$OUT/bench.log" 2>&1
    echo "benchmark rc=$? in $(( $(date +%s) - start )) s"
    rm -f .gpu/bench/*/checkpoint*.pt && rm -rf .gpu/bench/*/eval && cp -r .gpu/bench "$OUT/bench"
    tail -8 "$OUT/bench.log"
fi
