"""The DICOM series and the NIfTI of a demo case describe the same voxels at the same world positions."""

from __future__ import annotations

import shutil
import subprocess

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage

from cranialseg.demo import generate_ct_phantom, lps_affine_from_ras, write_ct_series


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("dcm")
    ph = generate_ct_phantom(np.random.default_rng(1), shape=(40, 48, 10), spacing=(2.0, 1.5, 5.0))
    paths = write_ct_series(ph.hu, ph.affine, root / "series", patient_id="P1", uid_seed=("t", 1))
    nib.save(nib.Nifti1Image(ph.hu, ph.affine), root / "case.nii.gz")
    return ph, paths, root


def test_valid_ct_image_storage(case):
    ph, paths, _ = case
    assert len(paths) == 10
    series = {pydicom.dcmread(p).SeriesInstanceUID for p in paths}
    assert len(series) == 1
    ds = pydicom.dcmread(paths[3])
    assert ds.file_meta.MediaStorageSOPClassUID == CTImageStorage == ds.SOPClassUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.Modality == "CT" and ds.PhotometricInterpretation == "MONOCHROME2"
    assert (ds.Rows, ds.Columns) == (48, 40)
    assert [float(v) for v in ds.PixelSpacing] == [1.5, 2.0]
    assert float(ds.SliceThickness) == 5.0
    assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, -1024.0)
    assert len({pydicom.dcmread(p).SOPInstanceUID for p in paths}) == 10
    # deterministic UIDs
    again = write_ct_series(ph.hu, ph.affine, case[2] / "again", patient_id="P1", uid_seed=("t", 1))
    assert pydicom.dcmread(again[0]).SOPInstanceUID == pydicom.dcmread(paths[0]).SOPInstanceUID


def test_positions_and_voxels_match_nifti(case):
    ph, paths, root = case
    nii = nib.load(root / "case.nii.gz")
    ras = nii.affine
    data = np.asarray(nii.dataobj)
    for p in paths:
        ds = pydicom.dcmread(p)
        k = int(ds.InstanceNumber) - 1
        hu = ds.pixel_array.astype(np.int32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_array_equal(hu.T, data[:, :, k])  # rows of the DICOM frame = y of the NIfTI
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        iop = np.array([float(v) for v in ds.ImageOrientationPatient])
        dr, dc = (float(v) for v in ds.PixelSpacing)
        for r, c in ((0, 0), (47, 0), (0, 39), (20, 13)):
            lps = ipp + c * dc * iop[:3] + r * dr * iop[3:]
            ras_from_dicom = lps * np.array([-1.0, -1.0, 1.0])
            np.testing.assert_allclose(ras_from_dicom, (ras @ [c, r, k, 1.0])[:3], atol=1e-4)
    np.testing.assert_allclose(lps_affine_from_ras(ras)[:2], -ras[:2])


@pytest.mark.skipif(shutil.which("dcm2niix") is None, reason="dcm2niix not installed (apt-get install dcm2niix)")
def test_dcm2niix_reads_the_series(case, tmp_path):
    _, _, root = case
    out = subprocess.run(
        ["dcm2niix", "-z", "n", "-f", "conv", "-o", str(tmp_path), str(root / "series")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    conv = nib.as_closest_canonical(nib.load(tmp_path / "conv.nii"))
    ref = nib.as_closest_canonical(nib.load(root / "case.nii.gz"))
    np.testing.assert_allclose(conv.affine, ref.affine, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(conv.dataobj).astype(np.int16), np.asarray(ref.dataobj))


def test_rejects_bad_volumes(tmp_path):
    with pytest.raises(ValueError, match="3D"):
        write_ct_series(np.zeros((4, 4), np.int16), np.eye(4), tmp_path)
    with pytest.raises(ValueError, match="-1024"):
        write_ct_series(np.full((2, 2, 2), -2000, np.int16), np.eye(4), tmp_path)
    tilted = np.eye(4)
    tilted[1, 2] = 2.0  # slice step not orthogonal to the rows/columns (gantry tilt)
    with pytest.raises(ValueError, match="tilt"):
        write_ct_series(np.zeros((2, 2, 2), np.int16), tilted, tmp_path)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed (apt-get install dicom3tools)")
def test_dciodvfy_validates_ct_image_iod(case):
    _, paths, _ = case
    out = subprocess.run(["dciodvfy", str(paths[0])], capture_output=True, text=True, timeout=60)
    report = out.stdout + out.stderr
    assert "CTImage" in report
    assert not [line for line in report.splitlines() if line.startswith(("Error", "Warning"))], report


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("Orthanc") is None, reason="Orthanc not installed (apt-get install orthanc)")
def test_orthanc_accepts_the_series(case, tmp_path):
    import json
    import time
    import urllib.request

    _, paths, _ = case
    port = _free_port()
    config = {
        "Name": "cranialseg-test",
        "StorageDirectory": str(tmp_path / "db"),
        "IndexDirectory": str(tmp_path / "db"),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [],
    }
    (tmp_path / "orthanc.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        ["Orthanc", str(tmp_path / "orthanc.json")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/system", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        for p in paths:
            req = urllib.request.Request(base + "/instances", data=p.read_bytes(), method="POST")
            answer = json.loads(urllib.request.urlopen(req, timeout=10).read())
            assert answer["Status"] == "Success", answer
        series = json.loads(urllib.request.urlopen(base + "/series", timeout=10).read())
        assert len(series) == 1
        info = json.loads(urllib.request.urlopen(f"{base}/series/{series[0]}", timeout=10).read())
        assert len(info["Instances"]) == len(paths)
        assert info["MainDicomTags"]["Modality"] == "CT"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
