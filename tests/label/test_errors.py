"""Which server-side failures reach the MONAI Label client as 422 with their message (main venv)."""

from __future__ import annotations

from cranialseg.label.errors import INPUT_ERROR_STATUS, find_input_error
from cranialseg.transforms.modality import CheckModality, ModalityMismatchError
from cranialseg.utils.errors import InputError


def _wrapped(inner: BaseException) -> RuntimeError:
    try:
        try:
            raise inner
        except Exception as e:
            raise RuntimeError("applying transform <CheckModalityd>") from e
    except RuntimeError as outer:
        return outer


def test_input_errors_are_found_through_monai_wrapping():
    import torch

    try:
        CheckModality("US", 2, bundle_name="us_bundle")(torch.zeros(1, 8, 8, 4))
    except ModalityMismatchError as e:
        mismatch = e
    found = find_input_error(_wrapped(mismatch))
    assert found is mismatch and "expects 2D US" in str(found)
    bad = InputError("/x.dcm", "DICOM file without pixel data")
    assert find_input_error(_wrapped(bad)) is bad
    assert find_input_error(_wrapped(KeyError("image"))) is None  # a server fault stays a 500
    assert INPUT_ERROR_STATUS == 422
