"""Our bundles in MONAI Label's stock ``monaibundle`` app (from the wheel), against a real server.

What must travel with the bundle (its own configs), not with the project's app: the ultrasound label map written
as an 8-bit PNG on the frame's grid (``post_transforms`` of the ultrasound ``inference.json``).
"""

from __future__ import annotations

import hashlib
import json
import time

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from tests.label._harness import (
    CT_NAME,
    US_NAME,
    http,
    mean_dice,
    multipart_body,
    prepare_app,
    shutil_copy,
    start_stock_server,
    write_label_png,
)

pytestmark = pytest.mark.slow

US_CASE = "us_004"
CT_CASE = "ct_002"
US_VENTRICLE_DICE = 0.8


@pytest.fixture(scope="module")
def stock(tmp_path_factory, label_bundles, demo_root):
    tmp = tmp_path_factory.mktemp("label_stock")
    studies = tmp / "studies"
    studies.mkdir()
    shutil_copy(demo_root["us"] / "png" / f"{US_CASE}.png", studies / "us_frame.png")
    shutil_copy(demo_root["ct"] / "images" / f"{CT_CASE}.nii.gz", studies / "ct_nifti.nii.gz")
    shutil_copy(demo_root["us"] / "png" / "us_000.png", studies / "us_train_0.png")
    shipped = prepare_app(tmp, label_bundles)  # bundle copies with weights under tmp/app/model
    proc, url = start_stock_server(tmp, studies, [tmp / "app" / "model" / name for name in label_bundles])
    try:
        yield {"url": url, "tmp": tmp, "studies": studies, "shipped": shipped, "proc": proc}
    finally:
        proc.stop()


def _infer(stock, model: str, image: str):
    status, _, body = http("POST", f"{stock['url']}/infer/{model}?image={image}&output=image", data=b"", timeout=300)
    assert status == 200, f"HTTP {status}: {body[:2000]!r}\n{stock['proc'].log_tail()}"
    return body


def test_stock_app_serves_both_bundles(stock):
    info = json.loads(http("GET", f"{stock['url']}/info/")[2])
    assert {CT_NAME, US_NAME} <= set(info["models"])
    assert info["models"][US_NAME]["dimension"] == 2 and info["models"][CT_NAME]["dimension"] == 3


def test_stock_app_us_png_is_an_8bit_label_map_on_the_frame_grid(stock, demo_root):
    body = _infer(stock, US_NAME, "us_frame")
    out = stock["tmp"] / "stock_us.png"
    out.write_bytes(body)
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    pred = np.asarray(Image.open(out))
    assert pred.shape == (256, 256) and pred.dtype == np.uint8  # was a 1 x N PNG, or a 500 for float32
    assert set(np.unique(pred).tolist()) <= {0, 1, 2}
    if not stock["shipped"][US_NAME]:
        pytest.skip("no shipped ultrasound weights: grid checked, Dice not")
    truth = np.asarray(nib.load(str(demo_root["us"] / "labels" / f"{US_CASE}.nii.gz")).dataobj)
    assert mean_dice(pred.T, truth, labels=[1]) >= US_VENTRICLE_DICE


def test_stock_app_ct_label_on_the_input_grid(stock):
    out = stock["tmp"] / "stock_ct.nii.gz"
    out.write_bytes(_infer(stock, CT_NAME, "ct_nifti"))
    src, pred = nib.load(str(stock["studies"] / "ct_nifti.nii.gz")), nib.load(str(out))
    assert pred.shape == src.shape
    np.testing.assert_allclose(pred.affine, src.affine, atol=1e-3)


def _put_label(stock, image: str, label) -> None:
    body, ctype = multipart_body({"label": (label.name, label.read_bytes(), "application/octet-stream")})
    status, _, res = http(
        "PUT", f"{stock['url']}/datastore/label?image={image}&tag=final", data=body, headers={"Content-Type": ctype}
    )
    assert status == 200, res[:1000]


@pytest.fixture(scope="module")
def mixed_labels(stock, demo_root):
    """One ultrasound label and one CT label in the same datastore."""
    tmp = stock["tmp"]
    _put_label(stock, "us_train_0", write_label_png(demo_root["us"] / "labels" / "us_000.nii.gz", tmp / "l0.png"))
    _put_label(stock, "ct_nifti", shutil_copy(demo_root["ct"] / "labels" / f"{CT_CASE}.nii.gz", tmp / "l.nii.gz"))
    return stock


@pytest.mark.parametrize("model, dims", [(US_NAME, 2), (CT_NAME, 3)])
def test_stock_app_trains_each_bundle_with_one_label_in_a_mixed_datastore(mixed_labels, model, dims):
    """Each bundle skips the other modality's item, still validates (one label) and saves a new model.pt."""
    stock = mixed_labels
    weights = stock["tmp"] / "apps" / "monaibundle" / "model" / model / "models" / "model.pt"
    before = hashlib.sha256(weights.read_bytes()).hexdigest()
    start = len(stock["proc"].log_tail(10_000_000))
    params = {"max_epochs": 1, "val_split": 0.5, "device": "cpu", "multi_gpu": False}
    status, _, body = http(
        "POST",
        f"{stock['url']}/train/{model}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, f"HTTP {status}: {body[:2000]!r}"
    deadline = time.monotonic() + 900
    task = json.loads(body)
    while task.get("status") in ("SUBMITTED", "RUNNING") and time.monotonic() < deadline:
        time.sleep(2)
        task = json.loads(http("GET", f"{stock['url']}/train/")[2])
    log = stock["proc"].log_tail(10_000_000)[start:]
    assert task.get("status") == "DONE", f"training {task.get('status')}: {task.get('details')}\n{log[-6000:]}"
    # MONAI Label split the 2 items 1 + 1: the other modality's item is skipped (was a crash for the CT bundle), and
    # the set it leaves empty takes the other set's item
    assert f"1 of 1 item(s) skipped (not {dims}D images for this bundle)" in log
    assert f"data: 1 item(s) of {dims}D kept" in log and "none left; using the 1 item(s) of the other set" in log
    assert hashlib.sha256(weights.read_bytes()).hexdigest() != before, "training wrote no new models/model.pt"
