"""Issue 12, point 11: the hostile-input corpus through the CT bundle's inference.json in one batch.

For each entry: the expected outcome (outputs, or a refusal whose message says what is wrong), no file written
outside the output folder, every input unchanged (SHA-256), and the good cases of the same batch written.
"""

from __future__ import annotations

import hashlib
import json
import os

import nibabel as nib
import numpy as np
import pytest

from cranialseg.engines import BatchFailedError
from tests.bundle.helpers import CT_BUNDLE, TINY_CT_OVERRIDES, run_workflow, save_tiny_checkpoint
from tests.bundle.hostile_corpus import CORPUS_MAX_VOXELS, HOSTILE, build_good_batch


def _tree(root):
    """``{relative path: sha256}`` of every file under ``root``."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def _sources(entry):
    source = entry["source"]
    return source if isinstance(source, list) else [source]


def _under(entry, folder):
    return any(str(s) == str(folder) or str(s).startswith(str(folder) + os.sep) for s in _sources(entry))


def test_corpus_has_at_least_40_entries_with_all_29_bad_inputs():
    from tests.io.bad_inputs import BAD_INPUTS

    names = [h.name for h in HOSTILE]
    assert len(names) >= 40 and len(set(names)) == len(names)
    assert {b.name for b in BAD_INPUTS} <= set(names)


def test_hostile_corpus_through_ct_inference(tmp_path):  # ~30 s on 2 loaded cores; kept in CI (issue 12)
    root = tmp_path / "bundle_root"
    save_tiny_checkpoint(CT_BUNDLE, root, TINY_CT_OVERRIDES)
    inputs = tmp_path / "inputs"
    for item in HOSTILE:
        item.build(inputs / item.name)
    build_good_batch(inputs / "zz-good")
    out = tmp_path / "o1" / "o2" / "o3" / "out"  # a path traversal of up to four levels stays inside tmp_path
    before = _tree(tmp_path)

    with pytest.raises(Exception) as info:
        run_workflow(
            CT_BUNDLE, ["inference.json"], bundle_root=str(root), input_dir=str(inputs), output_dir=str(out),
            max_voxels=CORPUS_MAX_VOXELS, **TINY_CT_OVERRIDES,
        )  # fmt: skip
    error = info.value
    while error is not None and not isinstance(error, BatchFailedError):
        error = error.__cause__
    assert error is not None, f"expected BatchFailedError (non-zero exit), got {info.value!r}"

    after = _tree(tmp_path)
    outside = sorted(p for p in set(after) - set(before) if not p.startswith(os.path.join("o1", "o2", "o3", "out")))
    assert outside == [], f"files written outside the output folder: {outside}"
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert changed == [], f"inputs changed: {changed}"

    summary = json.loads((out / "run_summary.json").read_text())
    counts = {"output": 0, "refused": 0, "ignored": 0, "nothing": 0}
    for item in HOSTILE:
        folder = inputs / item.name
        cases = [c for c in summary["cases"] if _under(c, folder)]
        failures = [f for f in summary["failures"] if _under(f, folder)]
        ignored = [g for g in summary["ignored"] if _under(g, folder)]
        where = f"{item.name}: cases={[c['name'] for c in cases]} failures={[f['error'] for f in failures]}"
        if item.outcome == "output":
            assert len(cases) == item.count and not failures, where
            for case in cases:
                assert all(os.path.dirname(p) == str(out.resolve()) for p in case["outputs"].values()), case
                assert (out / f"{case['name']}_done.json").is_file()
        elif item.outcome == "refused":
            assert failures and any(item.text in f["error"] for f in failures), where
            assert any(str(folder) in f["error"] for f in failures), f"the error must name the file: {where}"
        elif item.outcome == "ignored":
            assert ignored and not cases and not failures and any(item.text in g["reason"] for g in ignored), where
        else:
            assert not (cases or failures or ignored), where
        counts[item.outcome] += 1
    # the good inputs of the same batch: CT series and NIfTI written on their input grid, 2D inputs refused
    good = [c for c in summary["cases"] if _under(c, inputs / "zz-good")]
    assert {c["kind"] for c in good} == {"dicom-series", "nifti"} and len(good) == 3
    vol = [c for c in good if c["kind"] == "nifti"][0]
    assert nib.load(vol["outputs"]["nifti"]).shape == (5, 6, 7)
    for c in good:
        if c["kind"] == "dicom-series":
            assert os.path.isfile(c["outputs"]["dicom_seg"])
    # one input, one result: three distinct cases for foo.nii / foo.nii.gz / foo_2.nii.gz, each its own volume
    foo = sorted((c for c in summary["cases"] if _under(c, inputs / "foo-foo-foo2")), key=lambda c: c["source"])
    assert [os.path.basename(c["source"]) for c in foo] == ["foo.nii", "foo.nii.gz", "foo_2.nii.gz"]
    assert len({c["name"] for c in foo}) == 3 and any(c["name"] == "foo-foo-foo2__foo_2" for c in foo)
    # the traversal SeriesNumber is sanitised into the id
    traversal = [c for c in summary["cases"] if _under(c, inputs / "series-number-traversal")][0]
    assert "/" not in traversal["name"] and ".." not in traversal["name"]
    print("corpus counts:", counts, "entries:", len(HOSTILE), "cases:", summary["num_cases"])
    assert counts["refused"] >= 25 and counts["output"] >= 10


def test_bad_files_never_abort_discovery(tmp_path):
    """A decompression bomb and an over-long folder path are reported per file; the good case is still found."""
    from cranialseg.io import discover_cases
    from tests.bundle.hostile_corpus import decompression_bomb_png, long_folder_path

    decompression_bomb_png(tmp_path / "bomb")
    long_folder_path(tmp_path / "long")
    np.save(tmp_path / "x.npy", np.zeros(2))
    cases, problems = discover_cases(tmp_path)
    assert [c.kind for c in cases] == ["nifti"] and len(cases[0].case_id) <= 120
    assert any("DecompressionBombError" in why for _, why in problems)
