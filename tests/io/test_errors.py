"""InputError: message format, fields, ValueError compatibility, pickling (DataLoader workers)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from cranialseg.io import InputError


def test_message_fields_and_pickle():
    err = InputError(Path("/data/a.dcm"), "missing ImagePositionPatient", "every slice needs it")
    assert str(err) == "/data/a.dcm: missing ImagePositionPatient (every slice needs it)"
    assert (err.path, err.problem, err.hint) == ("/data/a.dcm", "missing ImagePositionPatient", "every slice needs it")
    assert str(InputError("x.nii", "zero-size image")) == "x.nii: zero-size image"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is InputError and (back.path, back.problem, str(back)) == (err.path, err.problem, str(err))
    with pytest.raises(ValueError, match="missing ImagePositionPatient"):
        raise err
