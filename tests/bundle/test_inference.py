"""inference.json through monai.bundle: outputs on the input grid (DICOM series, NIfTI, 2D US), DICOM SEG read-back,
modality mismatch messages, MONAI Label's ``image_path`` key."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest
from monai.transforms import LoadImage
from PIL import Image

from cranialseg.io import CranialImageReader
from cranialseg.transforms import ModalityMismatchError
from tests.bundle.helpers import (
    CT_BUNDLE,
    TINY_CT_OVERRIDES,
    TINY_US_OVERRIDES,
    US_BUNDLE,
    all_items,
    run_workflow,
    save_tiny_checkpoint,
)


def _infer(bundle, root, input_dir, output_dir, overrides, **extra):
    return run_workflow(
        bundle,
        ["inference.json"],
        bundle_root=str(root),
        input_dir=str(input_dir),
        output_dir=str(output_dir),
        **overrides,
        **extra,
    )


@pytest.fixture(scope="module")
def ct_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ct_bundle_root")
    save_tiny_checkpoint(CT_BUNDLE, root, TINY_CT_OVERRIDES)
    return root


def test_ct_dicom_and_nifti_outputs_on_input_grid(ct_demo, ct_root, tmp_path):
    hd = pytest.importorskip("highdicom")
    from cranialseg.io.dicom_seg import read_dicom_series, sample_label_on_series

    item = all_items(ct_demo)[0]
    inputs = tmp_path / "in"
    shutil.copytree(item["dicom"], inputs / "study1")
    shutil.copy(item["image"], inputs / "volume.nii.gz")
    out = tmp_path / "out"
    _infer(CT_BUNDLE, ct_root, inputs, out, TINY_CT_OVERRIDES, report_image_level=True)
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["num_succeeded"] == 2 and summary["failures"] == []
    names = {c["kind"]: c["name"] for c in summary["cases"]}

    # NIfTI: same shape and affine as the input file
    seg = nib.load(out / f"{names['nifti']}_seg.nii.gz")
    src = nib.load(inputs / "volume.nii.gz")
    assert seg.shape == src.shape
    np.testing.assert_allclose(seg.affine, src.affine, atol=1e-4)

    # DICOM series: same grid as the series read by the project's reader
    seg = nib.load(out / f"{names['dicom-series']}_seg.nii.gz")
    series = LoadImage(reader=CranialImageReader(), ensure_channel_first=True)(str(inputs / "study1"))
    assert seg.shape == tuple(series.shape[1:])
    np.testing.assert_allclose(seg.affine, np.asarray(series.affine), atol=1e-4)

    # DICOM SEG references the series and reads back to the written label map
    seg_file = out / f"{names['dicom-series']}_seg.dcm"
    dcm_seg = hd.seg.segread(seg_file)
    datasets = read_dicom_series(inputs / "study1")
    assert dcm_seg.ReferencedSeriesSequence[0].SeriesInstanceUID == datasets[0].SeriesInstanceUID
    uids = [ds.SOPInstanceUID for ds in datasets]
    back = dcm_seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=False)
    expected = sample_label_on_series(np.asarray(seg.dataobj), seg.affine, datasets)
    np.testing.assert_array_equal(back, expected)
    assert int((back > 0).sum()) == int((np.asarray(seg.dataobj) > 0).sum())
    volumes = json.loads((out / f"{names['dicom-series']}_volumes.json").read_text())["classes"]
    assert set(volumes) == {"ventricles", "EDH", "SDH", "IPH", "IVH"}
    image_level = json.loads((out / f"{names['dicom-series']}_volumes.json").read_text())["image_level"]
    assert set(image_level) == {"EDH", "SDH", "IPH", "IVH"} and all(0 <= p <= 1 for p in image_level.values())
    assert (out / f"{names['dicom-series']}_overlay.png").is_file()


def test_us_png_and_dicom_frames_on_input_grid(us_demo, tmp_path):
    pydicom_data = pytest.importorskip("pydicom.data")
    root = tmp_path / "root"
    save_tiny_checkpoint(US_BUNDLE, root, TINY_US_OVERRIDES)
    inputs = tmp_path / "in"
    inputs.mkdir()
    png = sorted((us_demo.parent / "png").glob("*.png"))[0]
    shutil.copy(png, inputs / "frame.png")
    shutil.copy(pydicom_data.get_testdata_file("US1_UNCR.dcm"), inputs / "us_rgb.dcm")
    out = tmp_path / "out"
    _infer(US_BUNDLE, root, inputs, out, TINY_US_OVERRIDES)
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["num_succeeded"] == 2, summary["failures"]
    picture = np.array(Image.open(inputs / "frame.png"))
    label_png = np.array(Image.open(out / "frame_seg.png"))
    assert label_png.shape == picture.shape[:2]
    assert set(np.unique(label_png)) <= {0, 1, 2}
    for name, source in (("frame", inputs / "frame.png"), ("us_rgb", inputs / "us_rgb.dcm")):
        image = LoadImage(reader=CranialImageReader(), ensure_channel_first=True)(str(source))
        seg = nib.load(out / f"{name}_seg.nii.gz")
        assert seg.shape[:2] == tuple(image.shape[1:3]) and int(np.prod(seg.shape)) == int(np.prod(image.shape[1:]))
        affine = np.asarray(image.affine)
        np.testing.assert_allclose(seg.affine[:2, :2], affine[:2, :2], atol=1e-5)
        np.testing.assert_allclose(seg.affine[:2, 3], affine[:2, -1], atol=1e-5)
    assert not (out / "us_rgb_seg.dcm").exists()  # no SEG for 2D ultrasound


def _raises_mismatch(call, right_bundle):
    """The run stops; the cause chain (monai.bundle wraps errors in RuntimeError) holds the mismatch message."""
    with pytest.raises(Exception) as info:
        call()
    error = info.value
    while error is not None and not isinstance(error, ModalityMismatchError):
        error = error.__cause__
    assert error is not None, f"no ModalityMismatchError behind {info.value!r}"
    assert right_bundle in str(error)


def test_modality_mismatch_names_the_right_bundle(ct_demo, us_demo, ct_root, tmp_path):
    us_in = tmp_path / "us_in"
    us_in.mkdir()
    shutil.copy(sorted((us_demo.parent / "png").glob("*.png"))[0], us_in / "frame.png")
    _raises_mismatch(
        lambda: _infer(CT_BUNDLE, ct_root, us_in, tmp_path / "o1", TINY_CT_OVERRIDES),
        "cranial_us_ventricle_segmentation",
    )
    ct_in = tmp_path / "ct_in"
    ct_in.mkdir()
    shutil.copy(all_items(ct_demo)[0]["image"], ct_in / "head.nii.gz")
    us_root = tmp_path / "us_root"
    save_tiny_checkpoint(US_BUNDLE, us_root, TINY_US_OVERRIDES)
    _raises_mismatch(
        lambda: _infer(US_BUNDLE, us_root, ct_in, tmp_path / "o2", TINY_US_OVERRIDES),
        "head_ct_haemorrhage_segmentation",
    )


def test_monai_label_style_request_with_image_path(ct_demo, ct_root):
    """MONAI Label parses inference.json and adds a string ``image_path``: preprocessing must not crash."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(CT_BUNDLE / "configs" / "inference.json"))
    parser.update({"bundle_root": str(ct_root), **TINY_CT_OVERRIDES})
    path = all_items(ct_demo)[0]["image"]
    data = parser.get_parsed_content("preprocessing")({"image": path, "image_path": path})
    assert data["image"].shape[0] == 3 and data["stashed_meta_items"]["image_path"] == path
    data["pred"] = data["image"][:1].repeat(6, 1, 1, 1)
    post = parser.get_parsed_content("postprocessing")(data)
    assert post["image_path"] == path
    assert tuple(post["pred"].shape[1:]) == nib.load(path).shape


def test_each_dicom_file_read_once_for_header_and_once_for_pixels(ct_root, tmp_path, monkeypatch):
    """Discovery, reader, shape check, overlay and DICOM SEG share one header read and one pixel read per file
    (before issue 12: 6 header reads and 3 full reads per file)."""
    import os
    from collections import Counter

    import pydicom

    from cranialseg.io.dicom_files import clear_header_cache
    from tests.io.builders import write_ct_series

    info = write_ct_series(tmp_path / "in" / "study", num_slices=6, rows=40, cols=36)
    clear_header_cache()
    header, full = Counter(), Counter()
    real = pydicom.dcmread

    def counting(fp, *a, **kw):
        if isinstance(fp, (str, os.PathLike)):
            (header if kw.get("stop_before_pixels") or kw.get("defer_size") else full)[os.fspath(fp)] += 1
        return real(fp, *a, **kw)

    monkeypatch.setattr(pydicom, "dcmread", counting)
    _infer(CT_BUNDLE, ct_root, tmp_path / "in", tmp_path / "out", TINY_CT_OVERRIDES)
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())
    assert set(summary["cases"][0]["outputs"]) == {"nifti", "dicom_seg", "volumes", "overlay"}
    assert [header[f] for f in info["files"]] == [1] * 6
    assert [full[f] for f in info["files"]] == [1] * 6


@pytest.mark.parametrize("typed", ["false", "False", "0", "FALSE"])
def test_boolean_options_typed_on_the_command_line(ct_root, typed):
    """``--overwrite false --write_dicom_seg false --use_onnxruntime false`` arrive as strings: all mean False."""
    from monai.bundle import ConfigParser

    from cranialseg.io import SaveDicomSegd

    parser = ConfigParser()
    parser.read_config(str(CT_BUNDLE / "configs" / "inference.json"))
    parser.update(
        {"bundle_root": str(ct_root), **TINY_CT_OVERRIDES, "overwrite": typed, "write_dicom_seg": typed,
         "use_onnxruntime": typed, "amp": typed}
    )  # fmt: skip
    engine = parser.get_parsed_content("batch_inference")
    assert engine.overwrite is False and engine.amp is False
    seg_writer = [w for w in engine.writers if isinstance(w, SaveDicomSegd)][0]
    assert seg_writer.enabled is False
    assert type(engine.network).__name__ == "DAResUNet"  # not the ONNX Runtime wrapper


def test_bad_boolean_option_is_refused_naming_it(ct_root):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(CT_BUNDLE / "configs" / "inference.json"))
    parser.update({"bundle_root": str(ct_root), **TINY_CT_OVERRIDES, "write_dicom_seg": "ja"})
    with pytest.raises(Exception) as info:
        parser.get_parsed_content("batch_inference")
    error = info.value
    while error.__cause__ is not None and "write_dicom_seg" not in str(error):
        error = error.__cause__
    assert "option 'write_dicom_seg'" in str(error)
