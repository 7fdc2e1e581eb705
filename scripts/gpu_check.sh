#!/usr/bin/env bash
# Exercise every CUDA path of the bundles in one go (issue 19), on small demo data: the AMP defaults, both
# bundles' training for 1 epoch with AMP, evaluation (default AMP against float32), inference on the demo DICOM
# series and PNG frames, ONNX export (bundle command + network on the GPU) with ONNX Runtime inference, bf16 and
# fp16 forwards of each shipped model, and a 2-process NCCL training when 2+ GPUs exist. Prints one line per
# check, "PASS|FAIL|SKIP <name> <seconds>s <note>", writes a JSON summary, and exits 1 if any check failed.
# Expected about 3-4 minutes on one H200 (16 CPU cores; not yet measured); logs of each check in <work>/logs/ (and
# in $OUT/gpu_check_logs/ when OUT is set). Checked on a 2-core CPU (CRANIALSEG_GPU_CHECK_DEVICE=cpu
# CRANIALSEG_GPU_CHECK_TINY=1 CRANIALSEG_GPU_CHECK_CASES=4 CRANIALSEG_GPU_CHECK_DDP=1): 26 checks pass in ~13 min.
# On the CPU AMP is off, so the AMP-vs-float32 comparisons there are trivially equal; they mean something on CUDA.
#
# Usage: bash scripts/gpu_check.sh
# Environment:
#   CRANIALSEG_GPU_CHECK_NO_SETUP=1  use `python3` as found (deps on PYTHONPATH, package installed); create no
#                                    venv and install nothing. Default: `scripts/setup_env.sh run` and .venv.
#   CRANIALSEG_GPU_CHECK_DEVICE      cuda (default; fails when CUDA is absent) or cpu (hides the GPUs: to test
#                                    this script on a machine without one)
#   CRANIALSEG_GPU_CHECK_DIR         work folder (default: a new temporary folder); shipped models are only read
#   CRANIALSEG_GPU_CHECK_JSON        JSON summary path (default: $OUT/gpu_check.json when OUT is set, else
#                                    <work>/gpu_check.json)
#   CRANIALSEG_GPU_CHECK_CASES       demo cases per bundle (default 8: 5 training, 2 validation, 1 test)
#   CRANIALSEG_GPU_CHECK_TINY=1      smaller demo images (for the CPU mode)
#   CRANIALSEG_GPU_CHECK_DDP=1       run the 2-process check on the CPU (gloo) too
#   CRANIALSEG_GPU_CHECK_TIMEOUT     seconds per check (default 180 on CUDA, 900 on the CPU)
#   CRANIALSEG_GPU_CHECK_ONLY        regex: run only the checks whose names match (e.g. to rerun one in the same
#                                    CRANIALSEG_GPU_CHECK_DIR: later checks read what earlier ones wrote there)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
if [ "${CRANIALSEG_GPU_CHECK_NO_SETUP:-0}" != 1 ]; then
    bash scripts/setup_env.sh run >/dev/null || { echo "FAIL setup 0s scripts/setup_env.sh run"; exit 1; }
    . .venv/bin/activate
fi
PY="$(command -v python3 || command -v python)"
DEVICE="${CRANIALSEG_GPU_CHECK_DEVICE:-cuda}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(($(nproc) > 3 ? $(nproc) / 2 : 1))}"  # two checks run side by side
[ "$DEVICE" = cpu ] && export CUDA_VISIBLE_DEVICES=""
WORK="${CRANIALSEG_GPU_CHECK_DIR:-$(mktemp -d -t gpu_check.XXXXXX)}"
mkdir -p "$WORK/logs" "$WORK/notes"
if [ -n "${CRANIALSEG_GPU_CHECK_JSON:-}" ]; then SUMMARY="$CRANIALSEG_GPU_CHECK_JSON"
elif [ -n "${OUT:-}" ]; then SUMMARY="$OUT/gpu_check.json"
else SUMMARY="$WORK/gpu_check.json"; fi
CASES="${CRANIALSEG_GPU_CHECK_CASES:-8}"
LIMIT="${CRANIALSEG_GPU_CHECK_TIMEOUT:-$([ "$DEVICE" = cpu ] && echo 900 || echo 180)}"
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
echo "gpu_check: device=$DEVICE work=$WORK summary=$SUMMARY python=$PY"

check() {  # check NAME COMMAND...: run, time, print one line, keep the log and the note
    local name="$1" t0 ms secs status rc note
    shift
    if [ -n "${CRANIALSEG_GPU_CHECK_ONLY:-}" ] && ! [[ "$name" =~ $CRANIALSEG_GPU_CHECK_ONLY ]]; then return 0; fi
    t0=$(date +%s%N)
    if declare -F "$1" >/dev/null; then  # a function of this script: run it in a bash that timeout can start
        export -f "$1"
        GPU_CHECK_NOTE="$WORK/notes/$name" timeout "$LIMIT" bash -c '"$@"' _ "$@" >"$WORK/logs/$name.log" 2>&1
    else
        GPU_CHECK_NOTE="$WORK/notes/$name" timeout "$LIMIT" "$@" >"$WORK/logs/$name.log" 2>&1
    fi
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    secs="$((ms / 1000)).$(((ms % 1000) / 100))"
    status=PASS
    [ $rc -ne 0 ] && status=FAIL
    note="$(cat "$WORK/notes/$name" 2>/dev/null || true)"
    [ $rc -eq 124 ] && note="timed out after ${LIMIT}s; $note"
    printf '%s\t%s\t%s\t%s\n' "$status" "$name" "$secs" "$note" >>"$RESULTS"
    echo "$status $name ${secs}s $note"
    if [ $status = FAIL ]; then tail -n 15 "$WORK/logs/$name.log" | sed 's/^/    | /'; fi
}
skip() { printf 'SKIP\t%s\t0\t%s\n' "$1" "$2" >>"$RESULTS"; echo "SKIP $1 0s $2"; }

bundle_name() { [ "$1" = ct ] && echo head_ct_haemorrhage_segmentation || echo cranial_us_ventricle_segmentation; }
bundle() {  # bundle ct|us COMMAND CONFIGS... -- OVERRIDES: `python -m monai.bundle COMMAND` for a bundle
    local b=$1 cmd=$2 name cfg files="" sep=""
    shift 2
    name=$(bundle_name "$b")
    while [ $# -gt 0 ] && [ "$1" != -- ]; do files="$files$sep'$REPO/bundle/$name/configs/$1'"; sep=","; shift; done
    shift
    cfg="[$files]"
    "$PY" -m monai.bundle run "$cmd" --meta_file "$REPO/bundle/$name/configs/metadata.json" \
        --config_file "$cfg" --logging_file "$REPO/bundle/$name/configs/logging.conf" "$@"
}
models() { [ "$1" = ct ] && echo "$REPO/bundle/head_ct_haemorrhage_segmentation/models" \
    || echo "$REPO/bundle/cranial_us_ventricle_segmentation/models"; }
GC="$REPO/scripts/gpu_check.py"
export REPO PY

bundle_checks() {  # bundle_checks us|ct: training, evaluation, forwards and exports of one bundle, in order
    local b=$1 D="$WORK/data_$1" steps mode extra
    check "data_$b" "$PY" "$GC" data --task "$b" --root "$D" --num-cases "$CASES"
    steps=$("$PY" -c "import json,math; from monai.bundle import ConfigParser; p = ConfigParser(); p.read_config('$REPO/bundle/$(bundle_name "$b")/configs/train.json'); print(math.ceil(len(json.load(open('$D/datalist.json'))['training']) / int(p['batch_size'])))" 2>/dev/null || echo 1)
    check "train_$b" bundle "$b" training train.json -- --data_dir "$D" --ckpt_dir "$WORK/models_$b" \
        --output_dir "$WORK/train_$b" --max_epochs 1 --val_interval 1
    check "trained_$b" "$PY" "$GC" trained --ckpt-dir "$WORK/models_$b" --expect-steps "$steps"
    for mode in amp fp32; do
        extra=()
        [ $mode = fp32 ] && extra=(--amp false)
        check "evaluate_${b}_$mode" bundle "$b" evaluating train.json evaluate.json -- --data_dir "$D" \
            --ckpt_dir "$(models "$b")" --output_dir "$WORK/eval_${b}_$mode" --eval_section validation "${extra[@]}"
    done
    check "evaluate_${b}_amp_vs_fp32" "$PY" "$GC" compare_eval --amp-dir "$WORK/eval_${b}_amp" \
        --fp32-dir "$WORK/eval_${b}_fp32"
    check "forward_bf16_fp16_$b" "$PY" "$GC" forward --bundle "$b" --data "$D" --device "$DEVICE"
    check "export_onnx_bundle_$b" bundle "$b" export_onnx inference.json -- --onnx_file "$WORK/bundle_$b.onnx"
    if [ "$b" = us ]; then  # the dynamo exporter takes about a minute: one bundle (the bundle export covers both)
        if "$PY" -c "import onnxscript" 2>/dev/null; then
            check "export_onnx_network_on_device_$b" "$PY" "$GC" export_net --bundle "$b" --data "$D" \
                --device "$DEVICE" --out "$WORK/onnx_net_$b.onnx"
        else
            skip "export_onnx_network_on_device_$b" "onnxscript not installed (torch.onnx dynamo export needs it)"
        fi
    fi
}
infer_ct_dicom() {
    check infer_ct_dicom bundle ct run inference.json -- --input_dir "$WORK/data_ct/dicom" \
        --output_dir "$WORK/infer_ct_dicom" --overwrite true
    check infer_ct_dicom_outputs "$PY" "$GC" inferred --out "$WORK/infer_ct_dicom" \
        --expect "$(find "$WORK/data_ct/dicom" -mindepth 1 -maxdepth 1 -type d | wc -l)" --suffix _seg.dcm
}
infer_us_png() {
    check infer_us_png bundle us run inference.json -- --input_dir "$WORK/data_us/png" \
        --output_dir "$WORK/infer_us_png" --overwrite true
    check infer_us_png_outputs "$PY" "$GC" inferred --out "$WORK/infer_us_png" \
        --expect "$(find "$WORK/data_us/png" -name '*.png' | wc -l)" --suffix _seg.png
}

check env "$PY" "$GC" env --device "$DEVICE"
check amp_defaults "$PY" "$GC" amp_defaults --device "$DEVICE"
# the two bundles side by side (one GPU is plenty for both), then the inference runs side by side
bundle_checks us &
bundle_checks ct &
wait
infer_ct_dicom &
infer_us_png &
check infer_ct_onnxruntime bundle ct run inference.json -- --input_dir "$WORK/data_ct/images" \
    --output_dir "$WORK/infer_ct_onnx" --overwrite true --use_onnxruntime true --onnx_file "$WORK/bundle_ct.onnx"
wait

gpus=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
if [ "$gpus" -ge 2 ] || [ "${CRANIALSEG_GPU_CHECK_DDP:-0}" = 1 ]; then
    D="$WORK/data_us"
    check ddp_2proc_train_us "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 -m monai.bundle run \
        training --meta_file "$REPO/bundle/cranial_us_ventricle_segmentation/configs/metadata.json" \
        --config_file "['$REPO/bundle/cranial_us_ventricle_segmentation/configs/train.json','$REPO/bundle/cranial_us_ventricle_segmentation/configs/multi_gpu_train.json']" \
        --logging_file "$REPO/bundle/cranial_us_ventricle_segmentation/configs/logging.conf" \
        --data_dir "$D" --ckpt_dir "$WORK/models_ddp_us" --output_dir "$WORK/train_ddp_us" --max_epochs 1 \
        --val_interval 1
    check ddp_2proc_trained_us "$PY" "$GC" trained --ckpt-dir "$WORK/models_ddp_us" --expect-steps 1
else
    skip ddp_2proc_train_us "$gpus GPU(s); NCCL needs 2"
fi

mkdir -p "$(dirname "$SUMMARY")"
"$PY" - "$RESULTS" "$SUMMARY" "$DEVICE" "$WORK" <<'EOF'
import json, sys
rows = [line.rstrip("\n").split("\t", 3) for line in open(sys.argv[1]) if line.strip()]
checks = [{"status": s, "name": n, "seconds": float(t), "note": (note[0] if note else "")} for s, n, t, *note in rows]
failed = [c["name"] for c in checks if c["status"] == "FAIL"]
summary = {"device": sys.argv[3], "work_dir": sys.argv[4], "passed": not failed, "failed": failed, "checks": checks}
json.dump(summary, open(sys.argv[2], "w"), indent=1)
EOF
if [ -n "${OUT:-}" ]; then  # the device tool brings $OUT back: keep the logs next to the summary
    mkdir -p "$OUT/gpu_check_logs" && cp "$WORK"/logs/*.log "$OUT/gpu_check_logs/" 2>/dev/null
fi
failed=$(grep -c '^FAIL' "$RESULTS")
echo "gpu_check: $(grep -c '^PASS' "$RESULTS") passed, $failed failed, $(grep -c '^SKIP' "$RESULTS") skipped; summary $SUMMARY"
[ "$failed" -eq 0 ]
