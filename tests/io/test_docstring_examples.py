"""The ``Example:`` blocks of cranialseg.io's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "cranialseg.io.colour",
    "cranialseg.io.dicom_files",
    "cranialseg.io.dicom_image",
    "cranialseg.io.dicom_series",
    "cranialseg.io.discover",
    "cranialseg.utils.errors",
    "cranialseg.io.geometry",
    "cranialseg.io.limits",
    "cranialseg.io.load_transforms",
    "cranialseg.io.loader",
    "cranialseg.io.nifti",
    "cranialseg.io.raster",
    "cranialseg.io.reader",
    "cranialseg.io.series",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
