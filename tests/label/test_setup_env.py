"""The label venv script's idempotent path: a built venv is recognised and left alone."""

from __future__ import annotations

import os
import subprocess

from tests.label._harness import LABEL_VENV, REPO, require_label_venv


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
