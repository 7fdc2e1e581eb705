#!/usr/bin/env bash
# Build the MONAI Label virtual environment `.venv-label/` in the repository root (MONAI Label 0.8.5 pins
# numpy < 2 and needs pydicom 2.4, so it cannot share `.venv`).
#
#   bash scripts/setup_label_env.sh            # build, or do nothing when it already matches (8-11 s)
#   bash scripts/setup_label_env.sh --force    # rebuild from scratch
#   bash scripts/setup_label_env.sh --check    # exit 0 when it matches, 1 otherwise; changes nothing
#
# Environment:
#   CRANIALSEG_LABEL_VENV       where the venv lives (default: <repo>/.venv-label). Set it to a folder outside
#                               the checkout (e.g. ~/.cache/cranialseg/venv-label) to keep one venv across
#                               clones: `.venv-label` then becomes a symbolic link to it.
#   CRANIALSEG_LABEL_WHEELHOUSE wheels of every pinned package (default: ~/.cache/cranialseg/label-wheelhouse).
#                               Filled once from PyPI; every later build installs from it with --no-index, so
#                               a rebuild works offline.
#   PYTHON                      interpreter for the venv (default: python3; MONAI Label 0.8.5 wants 3.9-3.11).
#
# Recipe (issue 6): the CPU torch 2.13.0 first, then monailabel with torch pinned so pip keeps the CPU build,
# then torchvision removed (the PyPI wheel is built against CUDA torch and fails to load: "operator
# torchvision::nms does not exist") and served by a two-function stand-in for MONAI Label's one import of it
# (monailabel/transform/post.py:32), then our package editable without dependencies.
# Recipe v2 (issue 16): installed packages are never edited. The torchvision stand-in is the project folder
# cranialseg/label/shims, put first on PYTHONPATH by scripts/start_label_server.sh; cranialseg.io reads pydicom
# 2.4 through cranialseg/io/pydicom_pixels.py. A v1 venv with the same pins is not rebuilt: the stand-ins v1
# wrote into its site-packages (torchvision/, pydicom/pixels.py) are deleted instead (a few seconds).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LINK="$REPO/.venv-label"
VENV="${CRANIALSEG_LABEL_VENV:-$LINK}"
WHEELHOUSE="${CRANIALSEG_LABEL_WHEELHOUSE:-$HOME/.cache/cranialseg/label-wheelhouse}"
PYTHON="${PYTHON:-python3}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

TORCH_PIN="torch==2.13.0"
LABEL_PINS=(monailabel==0.8.5 "$TORCH_PIN" torchvision==0.28.0 pydicom==2.4.4 dicomweb-client==0.59.1 pynetdicom==2.0.2)
RECIPE_VERSION=2
PINS="${LABEL_PINS[*]} $($PYTHON -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"
RECIPE="v$RECIPE_VERSION $PINS"
STAMP="$VENV/.cranialseg-label-recipe"
# recipe v1 wrote stand-ins into site-packages and recorded them here; v2 deletes both
OLD_SHIM_STAMP="$VENV/.cranialseg-label-shims"
# the folder put first on the server's path (MONAI Label's `from torchvision.utils import make_grid, save_image`)
SHIM_DIR="$REPO/cranialseg/label/shims"

MODE=build
case "${1:-}" in
    --force) MODE=force ;;
    --check) MODE=check ;;
    "") ;;
    *) echo "usage: $0 [--force|--check]" >&2; exit 2 ;;
esac

log() { echo "[setup_label_env] $*"; }
# a new file, never an in-place write: a venv copied with hard links (cp -al) keeps its original's stamp
write_stamp() { rm -f "$STAMP"; echo "$RECIPE" > "$STAMP"; }
# pip, without the warnings this machine's pip.conf prints for every missing local index folder
pip_quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

venv_matches() {
    [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ] || return 1
    # the editable install must point at this checkout, site-packages must hold no torchvision and no
    # pydicom/pixels.py, and the server's imports must work with the project's shim folder first on the path
    (cd / && PYTHONPATH="$SHIM_DIR" "$VENV/bin/python" - "$REPO" <<'EOF'
import os, sys, sysconfig
site = sysconfig.get_paths()["purelib"]
if os.path.exists(os.path.join(site, "torchvision")) or os.path.exists(os.path.join(site, "pydicom", "pixels.py")):
    sys.exit(4)
import cranialseg, monailabel, monai, numpy, pydicom, torch  # noqa: F401
import monailabel.tasks.infer.bundle  # noqa: F401  (imports torchvision.utils: the shim folder)
import cranialseg.io, cranialseg.label.app  # noqa: F401  (pydicom 2.4 through cranialseg.io.pydicom_pixels)
repo = os.path.realpath(sys.argv[1])
where = os.path.realpath(os.path.dirname(cranialseg.__file__))
sys.exit(0 if where == os.path.join(repo, "cranialseg") and torch.__version__.endswith("+cpu") else 3)
EOF
    ) >/dev/null 2>&1
}

link_venv() {
    if [ "$VENV" != "$LINK" ]; then
        if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
            log "ERROR: $LINK is a folder; remove it or unset CRANIALSEG_LABEL_VENV" >&2
            exit 1
        fi
        ln -sfn "$VENV" "$LINK"
    fi
}

if [ "$MODE" = check ]; then
    venv_matches && { log "up to date: $VENV"; exit 0; }
    log "missing or out of date: $VENV"
    exit 1
fi

if [ "$MODE" = build ] && venv_matches; then
    link_venv
    log "up to date: $VENV ($RECIPE)"
    exit 0
fi

# Last step, cheap: our package (editable, no dependencies); `python -m pip` so a copied venv installs into itself.
finish_venv() {
    pip_quiet "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$REPO"
    link_venv
}

# A recipe v1 venv (same pins) becomes v2 by deleting what v1 wrote into its site-packages.
upgrade_v1() {
    local site
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    (cd / && PYTHONPATH="$REPO" "$VENV/bin/python" -m cranialseg.label.torchvision_shim "$site" | sed 's/^/[setup_label_env] /')
    rm -f "$OLD_SHIM_STAMP"
    write_stamp
}

START=$(date +%s)
if [ "$MODE" = build ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "v1 $PINS" ]; then
    log "recipe v1 -> v2: removing the stand-ins v1 wrote into $VENV's site-packages (no rebuild)"
    upgrade_v1
fi
# Same pinned packages (e.g. a new checkout): redo the last step only.
if [ "$MODE" = build ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then
    log "refreshing our package in $VENV for $REPO"
    finish_venv
    venv_matches && { log "done in $(( $(date +%s) - START )) s"; exit 0; }
fi

log "building $VENV with $PYTHON ($RECIPE)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
PIP=(pip_quiet "$VENV/bin/pip")

WH_STAMP="$WHEELHOUSE/.recipe"
if [ ! -f "$WH_STAMP" ] || [ "$(cat "$WH_STAMP")" != "$RECIPE" ]; then
    log "filling the wheelhouse $WHEELHOUSE from PyPI (once)"
    mkdir -p "$WHEELHOUSE"
    # torch is pinned in every step so pip keeps the CPU build it finds on local disk (--find-links); never unpinned.
    "${PIP[@]}" wheel -q -w "$WHEELHOUSE" "${LABEL_PINS[@]}" "$TORCH_PIN" setuptools wheel
    echo "$RECIPE" > "$WH_STAMP"
fi

log "installing from the wheelhouse (offline)"
"${PIP[@]}" install -q --no-index --find-links "$WHEELHOUSE" "$TORCH_PIN" setuptools wheel
if ! "$VENV/bin/python" -W ignore -c 'import torch, sys; sys.exit(0 if torch.__version__.endswith("+cpu") else 1)'; then
    log "ERROR: the wheelhouse holds a non-CPU torch; delete $WHEELHOUSE, put the CPU wheel on pip's --find-links" >&2
    exit 1
fi
"${PIP[@]}" install -q --no-index --find-links "$WHEELHOUSE" "${LABEL_PINS[@]}"
# the PyPI torchvision is built against CUDA torch and fails to load ("operator torchvision::nms does not exist")
"${PIP[@]}" uninstall -q -y torchvision
write_stamp
finish_venv
if ! venv_matches; then
    log "ERROR: the new venv does not import cranialseg/monailabel; run: $VENV/bin/python -c 'import cranialseg.label.app'" >&2
    exit 1
fi
log "done in $(( $(date +%s) - START )) s; size $(du -sh "$VENV" | cut -f1)"
