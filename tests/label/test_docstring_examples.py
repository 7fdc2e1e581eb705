"""The ``Example:`` blocks of the MONAI Label helpers importable without MONAI Label run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "cranialseg.io.pydicom_pixels",
        "cranialseg.label.errors",
        "cranialseg.label.stats",
        "cranialseg.label.torchvision_shim",
        "cranialseg.label.uncertainty",
        "cranialseg.data.dataset",
    ],
)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
