"""DICOM SEG written over a demo CT series reads back with highdicom to the same mask."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bundle.helpers import all_items

hd = pytest.importorskip("highdicom")


def test_seg_round_trip(ct_demo, tmp_path):
    from monai.transforms import LoadImage

    from cranialseg.io import CranialImageReader
    from cranialseg.io.dicom_seg import read_dicom_series, sample_label_on_series, write_dicom_seg

    item = all_items(ct_demo)[0]
    image = LoadImage(reader=CranialImageReader(), ensure_channel_first=True)(item["dicom"])
    label = np.zeros(image.shape, dtype=np.uint8)
    label[0, 10:30, 20:40, 3:9] = 1
    label[0, 35:45, 30:36, 5:7] = 4
    path = write_dicom_seg(label, image.affine, item["dicom"], tmp_path / "seg.dcm", ["bg", "v", "e", "s", "i", "h"])
    seg = hd.seg.segread(path)
    datasets = read_dicom_series(item["dicom"])
    uids = [ds.SOPInstanceUID for ds in datasets]
    referenced = {ref.ReferencedSOPInstanceUID for ref in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == set(uids)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == datasets[0].SeriesInstanceUID
    back = seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=False)
    expected = sample_label_on_series(label, image.affine, datasets)
    np.testing.assert_array_equal(back, expected)
    assert sorted(np.unique(back).tolist()) == [0, 1, 4]
    # the mask sampled on the slices equals the label map: the reader's grid is the series' own grid
    assert int((back == 1).sum()) == int((label == 1).sum()) and int((back == 4).sum()) == int((label == 4).sum())


def test_seg_passes_dciodvfy(ct_demo, tmp_path):
    import shutil
    import subprocess

    from monai.transforms import LoadImage

    from cranialseg.io import CranialImageReader
    from cranialseg.io.dicom_seg import write_dicom_seg

    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) not installed")
    item = all_items(ct_demo)[1]
    image = LoadImage(reader=CranialImageReader(), ensure_channel_first=True)(item["dicom"])
    label = np.zeros(image.shape, dtype=np.uint8)
    label[0, 12:30, 12:30, 4:10] = 1
    label[0, 40:50, 20:28, 6:8] = 3
    path = write_dicom_seg(label, image.affine, item["dicom"], tmp_path / "seg.dcm", ["bg", "v", "e", "s", "i", "h"])
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
    assert errors == [], errors
