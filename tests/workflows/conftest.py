"""Session-wide tiny demo data for the bundle tests (generated once, by the project's own generator)."""

from __future__ import annotations

import pytest

from tests.bundle.helpers import make_demo


@pytest.fixture(scope="session")
def ct_demo(tmp_path_factory):
    """Datalist of 4 tiny CT phantoms (64 x 64 x 16, NIfTI + DICOM series)."""
    return make_demo(tmp_path_factory.mktemp("ct_demo"), "ct", 4)


@pytest.fixture(scope="session")
def us_demo(tmp_path_factory):
    """Datalist of 6 tiny ultrasound phantoms (96 x 96, NIfTI + PNG copies)."""
    return make_demo(tmp_path_factory.mktemp("us_demo"), "us", 6)
