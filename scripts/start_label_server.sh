#!/usr/bin/env bash
# Start MONAI Label, offline, serving the cranialseg bundles (head CT and cranial ultrasound).
#
#   bash scripts/start_label_server.sh [--studies FOLDER_OR_DICOMWEB_URL] [--port 8000] [--host 127.0.0.1]
#                                      [--app DIR] [--bundle DIR]... [--link] [--refresh] [-- MONAI Label args]
#
#   --studies  a local folder of images (NIfTI .nii/.nii.gz volumes, PNG/JPEG frames; labels go to
#              <folder>/labels/final) or a DICOMweb root such as http://127.0.0.1:8042/dicom-web
#              (default: <repo>/outputs/monailabel/studies, created empty)
#   --app      the app folder laid out for MONAI Label (default: <repo>/outputs/monailabel/app)
#   --bundle   a bundle folder to serve; repeat for several (default: every folder under <repo>/bundle with a
#              configs/inference.json). The folder name is the model id in MONAI Label.
#   --link     link the bundles into the app instead of copying them: training from MONAI Label then
#              overwrites the bundle's own models/model.pt
#   --refresh  replace the app's copies by fresh ones (drops weights trained from MONAI Label)
#   after --    passed to `monailabel start_server`, e.g. -- --conf skip_trainers true
#
# The server runs in the foreground (exec: its PID is this script's PID); stop it with Ctrl-C or kill.
# Needs the venv from scripts/setup_label_env.sh (CRANIALSEG_LABEL_VENV to use another one).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CRANIALSEG_LABEL_VENV:-$REPO/.venv-label}"
STUDIES="$REPO/outputs/monailabel/studies"
APP="$REPO/outputs/monailabel/app"
HOST=127.0.0.1
PORT=8000
MODE="copy"
REFRESH=()
BUNDLES=()
EXTRA=()

while [ $# -gt 0 ]; do
    case "$1" in
        --studies) STUDIES="$2"; shift 2 ;;
        --app) APP="$2"; shift 2 ;;
        --host) HOST="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --bundle) BUNDLES+=("$2"); shift 2 ;;
        --link) MODE="link"; shift ;;
        --refresh) REFRESH=(--refresh); shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ ! -x "$VENV/bin/python" ]; then
    echo "MONAI Label venv not found at $VENV; build it with: bash scripts/setup_label_env.sh" >&2
    exit 1
fi
if [ ${#BUNDLES[@]} -eq 0 ]; then
    for d in "$REPO"/bundle/*/; do
        [ -f "$d/configs/inference.json" ] && BUNDLES+=("${d%/}")
    done
fi
if [ ${#BUNDLES[@]} -eq 0 ]; then
    echo "no bundle with configs/inference.json under $REPO/bundle (or given with --bundle)" >&2
    exit 1
fi

MODELS=""
for b in "${BUNDLES[@]}"; do MODELS="${MODELS:+$MODELS,}$(basename "$b")"; done
case "$STUDIES" in
    http://*|https://*) ;;
    *) mkdir -p "$STUDIES" ;;
esac

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# Nothing is fetched at run time: no zoo list, no SAM2 weights, no dcmqi (see cranialseg/label/app.py).
export BUNDLE_DOWNLOAD_SRC=github
export MONAI_LABEL_TRACKING_ENABLED=false
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-file:$APP/mlruns}"
# MONAI Label imports `torchvision.utils` (make_grid/save_image, monailabel/transform/post.py:32) and the venv has
# no torchvision (the PyPI wheel needs CUDA torch): the project's stand-in folder goes first on the path, for the
# server and for the training subprocesses it starts. Nothing is written into site-packages.
export PYTHONPATH="$REPO/cranialseg/label/shims${PYTHONPATH:+:$PYTHONPATH}"

"$VENV/bin/python" -m cranialseg.label.app_dir "$APP" "${BUNDLES[@]}" --mode "$MODE" "${REFRESH[@]}" >/dev/null
echo "MONAI Label: app $APP, models $MODELS, studies $STUDIES, http://$HOST:$PORT"
# `monailabel` (the wheel's shell wrapper) runs whatever `python` is first on PATH; call the venv's directly.
exec "$VENV/bin/python" -m monailabel.main start_server \
    --app "$APP" --studies "$STUDIES" --host "$HOST" --port "$PORT" \
    --conf models "$MODELS" "${EXTRA[@]}"
