"""Fixtures of the MONAI Label tests: bundles, demo data (held-out seed), app folders with weights."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from tests.label._harness import CT_NAME, DEMO_SEED, REPO, US_NAME, require_label_venv


def bundle_dir(name: str) -> Path:
    path = REPO / "bundle" / name
    if not (path / "configs" / "inference.json").exists() or not (path / "configs" / "metadata.json").exists():
        pytest.skip(f"bundle {name} not found at {path}")
    return path


@pytest.fixture(scope="session")
def label_bundles() -> Dict[str, Path]:
    require_label_venv()
    return {CT_NAME: bundle_dir(CT_NAME), US_NAME: bundle_dir(US_NAME)}


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Dict[str, Path]:
    """Held-out demo data: 3 CT phantoms (NIfTI + DICOM series) and 6 ultrasound phantoms (NIfTI + 5 PNG)."""
    from cranialseg.demo import ensure_demo_data

    root = tmp_path_factory.mktemp("label_demo")
    ct = ensure_demo_data(root / "ct", task="ct", num_cases=3, seed=DEMO_SEED).parent
    us = ensure_demo_data(root / "us", task="us", num_cases=6, seed=DEMO_SEED).parent
    return {"ct": ct, "us": us}
