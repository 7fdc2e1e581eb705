"""Our bundles in MONAI Label's stock ``monaibundle`` app (from the wheel), against a real server.

What must travel with the bundle (its own configs), not with the project's app: the ultrasound label map written
as an 8-bit PNG on the frame's grid (``post_transforms`` of the ultrasound ``inference.json``).
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from tests.label._harness import (
    CT_NAME,
    US_NAME,
    http,
    mean_dice,
    prepare_app,
    shutil_copy,
    start_stock_server,
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
