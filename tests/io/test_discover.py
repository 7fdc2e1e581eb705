"""discover_cases: one case per DICOM series / DICOM image / NIfTI / raster file, and a list of problems."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from cranialseg.io import InputError, discover_cases, load_image
from tests.io.builders import write_ct_series


def make_tree(root):
    a = write_ct_series(root / "study1" / "series_a", num_slices=3, series_number=3)
    # one series spread over two sub-folders, and a second series beside it
    b = write_ct_series(root / "study2" / "part1", num_slices=2, series_number=4, prefix="P1_")
    for f in b["files"][1:]:
        (root / "study2" / "part2").mkdir(parents=True, exist_ok=True)
        shutil.move(f, root / "study2" / "part2")
    (root / "us").mkdir()
    shutil.copy(get_testdata_file("examples_ybr_color.dcm"), root / "us" / "CINE0001")
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5), np.float32), np.eye(4)), str(root / "ct_vol.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros((6, 7), np.float32), np.eye(4)), str(root / "us_frame.nii"))
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(root / "us" / "view 1.PNG")
    (root / "README.txt").write_text("export notes")
    (root / "study1" / "DICOMDIR").write_bytes(b"\0" * 10)
    return a, b


def test_cases_and_problems(tmp_path):
    a, b = make_tree(tmp_path)
    cases, problems = discover_cases(tmp_path)
    table = {c.case_id: (c.kind, c.modality, c.spatial_dims, c.num_frames) for c in cases}
    assert table == {
        "ct_vol": ("nifti", "CT", 3, 1),
        "study1__series_a_series3": ("dicom-series", "CT", 3, 1),
        "study2__part1_series4": ("dicom-series", "CT", 3, 1),
        "us__CINE0001": ("dicom-image", "US", 2, 30),
        "us__view_1": ("raster", "US", 2, 1),
        "us_frame": ("nifti", "US", 2, 1),
    }
    assert sorted(p for p, _ in problems) == [str(tmp_path / "README.txt"), str(tmp_path / "study1" / "DICOMDIR")]
    by_id = {c.case_id: c for c in cases}
    assert by_id["study2__part1_series4"].series_uid == b["series_uid"]
    array, meta = load_image(by_id["study2__part1_series4"].image)  # files from two folders, one series
    np.testing.assert_array_equal(array, b["hu"])
    array, _ = load_image(by_id["study1__series_a_series3"].image)
    np.testing.assert_array_equal(array, a["hu"])
    assert load_image(by_id["us__CINE0001"].image)[0].shape == (320, 240, 30)
    assert by_id["ct_vol"].to_dict()["image"] == str(tmp_path / "ct_vol.nii.gz")


def test_ids_are_stable_across_runs_and_locations(tmp_path):
    make_tree(tmp_path / "one")
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    ids1 = [c.case_id for c in discover_cases(tmp_path / "one")[0]]
    assert ids1 == [c.case_id for c in discover_cases(tmp_path / "one")[0]]
    assert ids1 == [c.case_id for c in discover_cases(tmp_path / "two")[0]]


def test_empty_and_missing_folders(tmp_path):
    cases, problems = discover_cases(tmp_path)
    assert cases == [] and problems[0][0] == str(tmp_path) and "empty folder" in problems[0][1]
    with pytest.raises(InputError, match="no such folder or file"):
        discover_cases(tmp_path / "nope")


def test_one_file_is_its_own_case_without_walking_its_folder(tmp_path):
    import nibabel as nib
    import numpy as np

    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), str(tmp_path / "one.nii.gz"))
    (tmp_path / "big_folder").mkdir()
    (tmp_path / "big_folder" / "junk.txt").write_text("x")
    cases, problems = discover_cases(tmp_path / "one.nii.gz")
    assert [(c.case_id, c.kind) for c in cases] == [("one", "nifti")] and problems == []
