"""Tests of ensure_demo_data: layout, decathlon datalist, MONAI loading, idempotence."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImage, LoadImaged

from cranialseg.demo import ensure_demo_data, split_cases


@pytest.fixture(scope="module")
def ct_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_ct")
    return root, ensure_demo_data(root, task="ct", num_cases=3, seed=0, shape=(48, 48, 12), spacing=(4.0, 4.0, 10.0))


def test_split_cases():
    assert split_cases(10) == {"training": list(range(7)), "validation": [7, 8], "test": [9]}
    assert split_cases(1) == {"training": [0], "validation": [], "test": []}
    with pytest.raises(ValueError, match="num_cases"):
        split_cases(0)


def test_ct_layout_and_datalist(ct_root):
    root, path = ct_root
    assert path == root / "datalist.json"
    dl = json.loads(path.read_text())
    assert [len(dl[k]) for k in ("training", "validation", "test")] == [1, 1, 1]
    assert dl["labels"]["2"] == "EDH" and dl["labels"]["5"] == "IVH"
    items = load_decathlon_datalist(path, data_list_key="training")
    assert items[0]["image"].endswith("images/ct_000.nii.gz")
    d = LoadImaged(keys=["image", "label"], ensure_channel_first=True)(items[0])
    assert d["image"].shape == (1, 48, 48, 12) and d["label"].shape == (1, 48, 48, 12)
    np.testing.assert_allclose(np.diag(d["image"].affine.numpy()), [-4.0, -4.0, 10.0, 1.0])
    assert set(np.unique(d["label"].numpy())) <= set(range(6))
    files = sorted((root / "dicom" / "ct_000").glob("*.dcm"))
    assert len(files) == 12
    assert pydicom.dcmread(files[0]).PatientID == "ct_000"


def test_ct_nifti_and_dicom_agree_through_monai_readers(ct_root):
    root, _ = ct_root
    nii = LoadImage(image_only=True)(root / "images" / "ct_001.nii.gz")
    dcm = LoadImage(reader="PydicomReader", image_only=True)(root / "dicom" / "ct_001")
    assert nii.shape == dcm.shape == (48, 48, 12)
    np.testing.assert_array_equal(nii.numpy(), dcm.numpy())
    np.testing.assert_allclose(nii.affine.numpy(), dcm.affine.numpy(), atol=1e-4)


def test_ct_idempotent_and_extends(ct_root):
    root, path = ct_root
    mtime = (root / "images" / "ct_000.nii.gz").stat().st_mtime_ns
    data = (root / "images" / "ct_001.nii.gz").read_bytes()
    ensure_demo_data(root, task="ct", num_cases=4, seed=0, shape=(48, 48, 12), spacing=(4.0, 4.0, 10.0))
    assert (root / "images" / "ct_000.nii.gz").stat().st_mtime_ns == mtime  # not regenerated
    assert (root / "images" / "ct_003.nii.gz").is_file()
    assert (root / "images" / "ct_001.nii.gz").read_bytes() == data


def test_us_layout_png_matches_nifti(tmp_path):
    path = ensure_demo_data(tmp_path, task="us", num_cases=4, seed=1, num_png=2, size=(96, 80))
    dl = json.loads(path.read_text())
    assert sum(len(dl[k]) for k in ("training", "validation", "test")) == 4
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["us_000.png", "us_001.png"]
    nii = LoadImage(image_only=True)(tmp_path / "images" / "us_000.nii.gz")
    png = LoadImage(reader="PILReader", image_only=True)(tmp_path / "png" / "us_000.png")
    assert nii.shape == png.shape == (96, 80)
    np.testing.assert_array_equal(nii.numpy(), png.numpy())
    np.testing.assert_allclose(np.diag(nii.affine.numpy())[:2], [0.3, 0.3])
    lab = LoadImage(image_only=True)(tmp_path / "labels" / "us_000.nii.gz")
    assert set(np.unique(lab.numpy())) <= {0, 1, 2} and (lab.numpy() == 1).any()


def test_deterministic_across_folders(tmp_path):
    a = ensure_demo_data(tmp_path / "a", task="us", num_cases=2, seed=3, num_png=0)
    b = ensure_demo_data(tmp_path / "b", task="us", num_cases=2, seed=3, num_png=0)
    img = LoadImage(image_only=True)
    np.testing.assert_array_equal(img(a.parent / "images/us_001.nii.gz"), img(b.parent / "images/us_001.nii.gz"))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="task"):
        ensure_demo_data(tmp_path, task="mri")
    with pytest.raises(TypeError, match="unknown settings"):
        ensure_demo_data(tmp_path, task="us", shape=(4, 4, 4))


def load_script(name: str):
    """Import ``scripts/<name>.py`` as a module (the CLI is thin: its ``main(argv)`` is tested in-process)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_generate_demo_data(tmp_path, capsys):
    cli = load_script("generate_demo_data")
    argv = [str(tmp_path), "--task", "us", "--num-cases", "3", "--size", "64", "64", "--spacing", "0.25"]
    assert cli.main(argv + ["--num-png", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "datalist.json")
    img = LoadImage(image_only=True)(tmp_path / "images" / "us_002.nii.gz")
    assert img.shape == (64, 64)
    np.testing.assert_allclose(np.diag(img.affine.numpy())[:2], [0.25, 0.25])
    with pytest.raises(SystemExit):
        cli.main([str(tmp_path), "--task", "ct", "--size", "4", "4"])
    assert "--size is for --task us" in capsys.readouterr().err


def test_parallel_generation_matches_serial_and_demo_datalist(tmp_path):
    from cranialseg.demo import demo_datalist

    kw = {"shape": (48, 48, 12), "spacing": (4.0, 4.0, 10.0), "negative_fraction": 0.5, "write_dicom": False}
    serial = ensure_demo_data(tmp_path / "serial", "ct", num_cases=3, seed=5, **kw)
    parallel = demo_datalist(tmp_path / "parallel", "ct", 3, seed=5, num_workers=2, **kw)
    for case in ("ct_000", "ct_001", "ct_002"):
        a = LoadImage()(str(serial.parent / "images" / f"{case}.nii.gz"))
        b = LoadImage()(str(tmp_path / "parallel" / "images" / f"{case}.nii.gz"))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    info = json.loads((tmp_path / "parallel" / "demo_info.json").read_text())
    assert info["settings"]["kw"]["negative_fraction"] == 0.5
    assert info["cases"] == json.loads((tmp_path / "serial" / "demo_info.json").read_text())["cases"]
    assert parallel == str(tmp_path / "parallel" / "datalist.json")
    # a user's own datalist (no demo_info.json beside it) is returned untouched, nothing is generated
    own = tmp_path / "own"
    own.mkdir()
    (own / "datalist.json").write_text('{"training": []}')
    assert demo_datalist(own, "ct", 3, **kw) == str(own / "datalist.json")
    assert not (own / "images").exists()


def test_ct_thick_slices_setting_records_the_acquired_thickness(ct_root, tmp_path):
    """``thick_slices`` is a generator setting like the others (kept in demo_info.json), and every
    case records the slice thickness it was acquired at (the grid stays the requested one)."""
    import json

    import nibabel as nib

    root, _ = ct_root
    kw = dict(task="ct", num_cases=2, seed=0, shape=(48, 48, 12), spacing=(4.0, 4.0, 10.0), write_dicom=False)
    ensure_demo_data(tmp_path, thick_slices=1.0, **kw)
    info = json.loads((tmp_path / "demo_info.json").read_text())
    assert info["settings"]["kw"]["thick_slices"] == 1.0
    assert all(6.5 <= case["slice_thickness_mm"] <= 8.0 for case in info["cases"].values())
    assert nib.load(tmp_path / "images" / "ct_000.nii.gz").shape == (48, 48, 12)
    assert json.loads((root / "demo_info.json").read_text())["cases"]["ct_000"]["slice_thickness_mm"] == 10.0
