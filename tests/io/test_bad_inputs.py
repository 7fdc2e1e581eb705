"""Table of broken inputs: each raises an InputError naming the file and the problem; a batch goes on."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cranialseg.io import InputError, discover_cases, load_image
from tests.io.bad_inputs import BAD_INPUTS, BATCH_BAD, build_good_inputs


def test_corpus_is_large_enough():
    assert len(BAD_INPUTS) >= 20 and len({b.name for b in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[b.name for b in BAD_INPUTS])
def test_bad_input_names_file_and_problem(tmp_path, bad):
    source, bad_path = bad.build(tmp_path)
    with pytest.raises(InputError) as err:
        bad.run(source)
    error = err.value
    assert isinstance(error, ValueError)
    assert bad.problem in error.problem, f"{bad.name}: {error}"
    if bad_path.is_dir():  # the folder itself or a file inside it
        assert error.path == str(bad_path) or os.path.dirname(error.path) == str(bad_path), str(error)
    else:
        assert error.path == str(bad_path), str(error)
    assert str(error).startswith(f"{error.path}: {error.problem}")


def test_batch_reports_bad_cases_and_loads_the_rest(tmp_path):
    root = tmp_path / "batch"
    bad_paths = {}
    for bad in BAD_INPUTS:
        if bad.name in BATCH_BAD:
            source, bad_path = bad.build(root / "bad" / bad.name)
            bad_paths[bad.name] = bad_path
    good = build_good_inputs(root)
    cases, problems = discover_cases(root)
    loaded, failures = {}, []
    for case in cases:
        try:
            array, meta = load_image(case.image)
        except InputError as err:
            failures.append((case.case_id, err))
            continue
        loaded[case.case_id] = (array, meta, case)
    reported = [p for p, _ in problems] + [err.path for _, err in failures]
    for name, bad_path in bad_paths.items():
        hits = [p for p in reported if p == str(bad_path) or p.startswith(str(bad_path) + os.sep)]
        assert hits, f"{name}: {bad_path} not reported; problems={problems}, failures={failures}"
    # every good case loads with its shape, and nothing from the bad corpus loads
    shapes = {}
    for array, _meta, case in loaded.values():
        files = case.files
        rel = os.path.relpath(files[0] if case.kind != "dicom-series" else os.path.dirname(files[0]), root)
        shapes[rel] = array.shape
        assert np.isfinite(array).all()
    assert shapes == good
    assert len(failures) + len(loaded) == len(cases)
    assert {c.case_id for c in cases} >= {"good__ct_a_series7", "good__us__frame", "good__vol", "good__capture"}
