"""MONAI Label on a DICOMweb PACS: a real Orthanc with its DICOMweb plugin, both on 127.0.0.1.

The test starts Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``, installed by ``scripts/ci_label_deps.sh``) with
its own configuration and storage in a temporary folder, uploads a demo head CT series through Orthanc's REST API,
starts MONAI Label with ``--studies http://127.0.0.1:<port>/dicom-web`` and runs the CT model on the series. Both
servers are stopped by PID in the fixture's teardown.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.label._harness import (
    CT_NAME,
    LOOPBACK,
    ManagedProcess,
    free_port,
    http,
    mean_dice,
    prepare_app,
    start_label_server,
)

pytestmark = pytest.mark.slow

CT_CASE = "ct_002"
CT_VENTRICLE_DICE = 0.6
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def _orthanc_binary() -> str:
    exe = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None)
    if exe is None or not DICOMWEB_PLUGIN.exists():
        pytest.skip("Orthanc with the DICOMweb plugin is not installed (bash scripts/ci_label_deps.sh)")
    return exe


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    exe = _orthanc_binary()
    tmp = tmp_path_factory.mktemp("orthanc")
    port = free_port()
    config = {
        "Name": "cranialseg-test",
        "StorageDirectory": str(tmp / "db"),
        "IndexDirectory": str(tmp / "db"),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "DicomPort": free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpsVerifyPeers": False,
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Host": LOOPBACK, "Ssl": False},
    }
    (tmp / "orthanc.json").write_text(json.dumps(config, indent=2))
    proc = ManagedProcess([exe, str(tmp / "orthanc.json")], tmp / "orthanc.log", cwd=tmp)
    url = f"http://{LOOPBACK}:{port}"
    try:
        proc.wait_http(f"{url}/system", timeout=60)
        yield {"url": url, "proc": proc, "tmp": tmp}
    finally:
        proc.stop()


def _upload_series(orthanc, series_dir: Path) -> str:
    """POST every file of a DICOM series to Orthanc's REST API; returns the SeriesInstanceUID."""
    files = sorted(series_dir.glob("*.dcm"))
    assert files, f"no DICOM files in {series_dir}"
    parents = set()
    for f in files:
        status, _, body = http(
            "POST", f"{orthanc['url']}/instances", data=f.read_bytes(), headers={"Content-Type": "application/dicom"}
        )
        assert status == 200, body[:500]
        parents.add(json.loads(body)["ParentSeries"])
    assert len(parents) == 1
    status, _, body = http("GET", f"{orthanc['url']}/series/{parents.pop()}")
    series = json.loads(body)
    assert len(series["Instances"]) == len(files)
    return series["MainDicomTags"]["SeriesInstanceUID"]


@pytest.fixture(scope="module")
def dicomweb_server(tmp_path_factory, orthanc, label_bundles, demo_root):
    series_uid = _upload_series(orthanc, demo_root["ct"] / "dicom" / CT_CASE)
    status, _, body = http("GET", f"{orthanc['url']}/dicom-web/series?Modality=CT")
    assert status == 200 and series_uid in body.decode()
    tmp = tmp_path_factory.mktemp("label_dicomweb")
    bundles = {CT_NAME: label_bundles[CT_NAME]}
    shipped = prepare_app(tmp, bundles)
    proc, url = start_label_server(tmp, f"{orthanc['url']}/dicom-web", list(bundles.values()))
    try:
        yield {"url": url, "proc": proc, "tmp": tmp, "series_uid": series_uid, "shipped": shipped}
    finally:
        proc.stop()


def test_next_sample_is_the_pacs_series(dicomweb_server):
    """OHIF's "next sample": MONAI Label queries the PACS (QIDO-RS, Modality CT) for unlabelled series."""
    url = f"{dicomweb_server['url']}/activelearning/first"
    status, _, body = http("POST", url, data=b"{}", headers={"Content-Type": "application/json"}, timeout=120)
    assert status == 200, body[:1000]
    assert json.loads(body)["id"] == dicomweb_server["series_uid"]


def test_infer_ct_series_from_dicomweb(dicomweb_server, demo_root):
    srv = dicomweb_server
    status, _, body = http(
        "POST", f"{srv['url']}/infer/{CT_NAME}?image={srv['series_uid']}&output=image", data=b"", timeout=300
    )
    assert status == 200, f"HTTP {status}: {body[:2000]!r}\n{srv['proc'].log_tail()}"
    out = srv["tmp"] / "pred_dicomweb.nii.gz"
    out.write_bytes(body)
    pred = nib.load(str(out))
    truth = nib.load(str(demo_root["ct"] / "labels" / f"{CT_CASE}.nii.gz"))
    # the series MONAI Label fetched over WADO-RS and converted has the phantom's grid
    assert pred.shape == truth.shape == (128, 128, 32)
    np.testing.assert_allclose(pred.affine, truth.affine, atol=1e-3)
    assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= set(range(6))
    if not srv["shipped"][CT_NAME]:
        pytest.skip(f"{CT_NAME} has no shipped models/model.pt yet: grid checked, Dice not")
    dice = mean_dice(np.asarray(pred.dataobj), np.asarray(truth.dataobj), labels=[1])
    assert dice >= CT_VENTRICLE_DICE, f"ventricle Dice {dice:.3f} < {CT_VENTRICLE_DICE}"
