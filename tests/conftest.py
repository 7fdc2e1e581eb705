"""Shared pytest fixtures: the real public data beside the checkout, tiny demo data sets, small torch settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("CRANIALSEG_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder of real public data; skips the test when it is absent."""
    data = SHARED_DIR / "data"
    if not data.is_dir():
        pytest.skip(f"real test data not found at {data} (set CRANIALSEG_SHARED to the shared folder)")
    return data


@pytest.fixture(scope="session")
def shared_schemas() -> Path:
    """The ``../shared/schemas`` folder with the MONAI bundle metadata schemas; skips when absent."""
    schemas = SHARED_DIR / "schemas"
    if not schemas.is_dir():
        pytest.skip(f"bundle metadata schemas not found at {schemas}")
    return schemas


@pytest.fixture(scope="session")
def ct_demo(tmp_path_factory):
    """Datalist of 4 tiny CT phantoms (64 x 64 x 16, NIfTI + DICOM series), generated once per session."""
    from tests.bundle.helpers import make_demo

    return make_demo(tmp_path_factory.mktemp("ct_demo"), "ct", 4)


@pytest.fixture(scope="session")
def us_demo(tmp_path_factory):
    """Datalist of 6 tiny ultrasound phantoms (96 x 96, NIfTI + PNG copies), generated once per session."""
    from tests.bundle.helpers import make_demo

    return make_demo(tmp_path_factory.mktemp("us_demo"), "us", 6)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Deterministic seeds for every test; torch uses at most 2 threads (CI has 2 cores)."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 - legacy global seed, for code that uses it
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield
