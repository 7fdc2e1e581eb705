"""DICOM slice series: grouping, sorting along the normal, HU rescale, affine, several series per folder."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from cranialseg.io import InputError, list_dicom_series, load_image
from tests.io.builders import OBLIQUE, expected_ras_affine, write_ct_series

ORIENTATIONS = {
    "axial": (1, 0, 0, 0, 1, 0),
    "coronal": (1, 0, 0, 0, 0, -1),
    "sagittal": (0, 1, 0, 0, 0, -1),
    "oblique": OBLIQUE,
}


@pytest.mark.parametrize("name", sorted(ORIENTATIONS))
def test_series_sorted_along_normal_with_exact_affine(tmp_path, name):
    info = write_ct_series(tmp_path / "s", orientation=ORIENTATIONS[name], seed=3)
    array, meta = load_image(tmp_path / "s")
    np.testing.assert_array_equal(array, info["hu"])
    np.testing.assert_allclose(meta["affine"], expected_ras_affine(info), atol=1e-6)
    assert meta["source_files"] == info["files"]  # slice order, not file-name order
    assert meta["source_series_uid"] == info["series_uid"]
    assert meta["modality"] == "CT" and meta["geometry_fixes"] == [] and not meta["resampled"]
    np.testing.assert_allclose(meta["spacing"], [0.6, 0.7, 2.5], atol=1e-5)


def test_positions_descending_along_normal_are_sorted(tmp_path):
    pos = np.array([[0, 0, 50.0 - 3 * k] for k in range(4)])  # written top-down
    info = write_ct_series(tmp_path / "s", positions=pos, shuffle=True, seed=1)
    array, meta = load_image(tmp_path / "s")
    np.testing.assert_array_equal(array, info["hu"][..., ::-1])
    assert meta["affine"][2, 2] == pytest.approx(3.0) and meta["affine"][2, 3] == pytest.approx(41.0)


def test_rescale_slope_applied_per_slice(tmp_path):
    info = write_ct_series(tmp_path / "s", num_slices=3, slopes=[1.0, 0.5, 2.0], shuffle=False)
    array, _ = load_image(tmp_path / "s")
    np.testing.assert_array_equal(array, info["hu"])
    assert array.dtype == np.float32


def test_file_list_and_stray_files(tmp_path):
    info = write_ct_series(tmp_path / "s")
    (tmp_path / "s" / "notes.txt").write_text("scanner log")
    (tmp_path / "s" / ".DS_Store").write_bytes(b"\0" * 200)
    array, meta = load_image(tmp_path / "s")
    np.testing.assert_array_equal(array, info["hu"])
    assert sorted(meta["skipped_files"]) == sorted(str(tmp_path / "s" / n) for n in ("notes.txt", ".DS_Store"))
    array2, meta2 = load_image(list(reversed(info["files"])))
    np.testing.assert_array_equal(array2, info["hu"])


def test_two_series_in_a_folder_pick_by_uid(tmp_path):
    a = write_ct_series(tmp_path / "mix", prefix="A", series_number=2, num_slices=3)
    b = write_ct_series(tmp_path / "mix", prefix="B", series_number=5, num_slices=4, spacing=1.0, seed=9)
    series, problems = list_dicom_series(tmp_path / "mix")
    assert [s.series_uid for s in series] == [a["series_uid"], b["series_uid"]] and problems == []
    assert [len(s.files) for s in series] == [3, 4]
    with pytest.raises(InputError) as err:
        load_image(tmp_path / "mix")
    assert err.value.path == str(tmp_path / "mix")
    assert "2 DICOM series" in err.value.problem and b["series_uid"] in err.value.problem
    array, meta = load_image(tmp_path / "mix", series_uid=b["series_uid"])
    np.testing.assert_array_equal(array, b["hu"])
    assert meta["source_files"] == b["files"]


def test_single_ct_slice(tmp_path):
    array, meta = load_image(get_testdata_file("693_UNCR.dcm"))
    assert array.shape == (512, 512, 1) and meta["spatial_dims"] == 3
    flat, meta2 = load_image(get_testdata_file("693_UNCR.dcm"), spatial_dims=2)
    assert flat.shape == (512, 512) and meta2["spatial_dims"] == 2
    np.testing.assert_array_equal(flat, array[..., 0])
    # thickness from SpacingBetweenSlices (20 mm in this file), x/y flipped to RAS
    np.testing.assert_allclose(np.diag(meta["affine"])[:3], [-0.478516, -0.478516, 20.0], atol=1e-6)
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "x.dcm")
    with pytest.raises(InputError, match="where a 3D volume is expected|at least 2"):
        load_image(tmp_path / "x.dcm", spatial_dims=3)


def test_non_image_objects_and_nested_layout(tmp_path):
    """DICOMDIR-like files, a DICOM SEG and a report next to the slices are skipped; slices may sit in sub-folders."""
    import pydicom

    info = write_ct_series(tmp_path / "export" / "DICOM" / "S1", num_slices=3)
    shutil.copy(get_testdata_file("liver.dcm"), tmp_path / "export" / "seg.dcm")  # a DICOM SEG (has pixel data)
    sr = pydicom.dcmread(info["files"][0])
    del sr.PixelData
    sr.Modality, sr.SeriesInstanceUID = "SR", "1.2.3.99"
    sr.save_as(tmp_path / "export" / "report.dcm", enforce_file_format=True)
    array, meta = load_image(tmp_path / "export")
    np.testing.assert_array_equal(array, info["hu"])
    assert sorted(meta["skipped_files"]) == [str(tmp_path / "export" / n) for n in ("report.dcm", "seg.dcm")]
