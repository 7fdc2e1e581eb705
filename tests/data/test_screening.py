"""Case names of evaluation reports (cranialseg.data.screening.case_name)."""

from __future__ import annotations

import pytest

from cranialseg.data.screening import case_name


@pytest.mark.parametrize(
    "source, expected",
    [
        ("/data/images/ct_001.nii.gz", "ct_001"),
        ("ct_001.nii", "ct_001"),
        (["/data/us_004.png"], "us_004"),
        ("frame.dcm", "frame"),
        # every suffix cranialseg.io reads (one definition: io.nifti, io.raster, io.dicom_files), not only 4 of them
        ("hc18/001_HC.jpg", "001_HC"),
        ("view.tiff", "view"),
        ("slice.ima", "slice"),
        ("series_folder", "series_folder"),
    ],
)
def test_case_name_drops_the_image_suffix(source, expected):
    assert case_name(source) == expected
