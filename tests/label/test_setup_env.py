"""The label venv script's idempotent path: a built venv is recognised and left alone."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.label._harness import LABEL_VENV, REPO, SHIM_DIR, require_label_venv


def test_setup_script_recognises_a_built_venv():
    require_label_venv()
    stamp = LABEL_VENV / ".cranialseg-label-recipe"
    mtime = stamp.stat().st_mtime
    env = {**os.environ, "CRANIALSEG_LABEL_VENV": str(LABEL_VENV)} if LABEL_VENV != REPO / ".venv-label" else None
    res = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup_label_env.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "up to date" in res.stdout
    assert stamp.stat().st_mtime == mtime


@pytest.mark.slow
def test_label_venv_is_unmodified_and_the_shim_folder_serves_monailabel():
    """No stand-in in the venv's site-packages; MONAI Label's bundle task imports only with the shim folder."""
    python = require_label_venv()
    code = (
        "import json, os, sys, sysconfig\n"
        "site = sysconfig.get_paths()['purelib']\n"
        "res = {'tv': os.path.exists(os.path.join(site, 'torchvision')),\n"
        "       'pixels': os.path.exists(os.path.join(site, 'pydicom', 'pixels.py'))}\n"
        "try:\n"
        "    import monailabel.tasks.infer.bundle  # from torchvision.utils import make_grid, save_image\n"
        "    import cranialseg.io\n"
        "    res['import'] = 'ok'\n"
        "except ImportError as err:\n"
        "    res['import'] = str(err)\n"
        "print(json.dumps(res))\n"
    )
    out = {}
    for with_shims in (False, True):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if with_shims:
            env["PYTHONPATH"] = str(SHIM_DIR)
        res = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd="/")
        assert res.returncode == 0, res.stderr[-3000:]
        out[with_shims] = json.loads(res.stdout.strip().splitlines()[-1])
    assert out[True] == {"tv": False, "pixels": False, "import": "ok"}
    assert "torchvision" in out[False]["import"]
