"""A real MONAI Label server (the label venv) serving both bundles from a local studies folder, on 127.0.0.1.

Covers: ``GET /info/`` (both models, labels, dimensions), ``POST /infer/<model>`` on a head CT NIfTI, on a CT volume
converted from its DICOM series by MONAI Label's own converter, and on a 2D ultrasound PNG (label map on the input's
grid, Dice against the phantom truth with the shipped weights), then ``PUT /datastore/label`` and
``POST /train/<model>`` for one epoch (a new ``models/model.pt``, inference after it). The server is started by
``scripts/start_label_server.sh`` and killed by PID (its process group) in the fixture's teardown.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from tests.label._harness import (
    CT_NAME,
    US_NAME,
    bundle_pipeline_labels,
    dicom_to_nifti_with_monailabel,
    http,
    mean_dice,
    multipart_body,
    prepare_app,
    shutil_copy,
    start_label_server,
    write_label_png,
)

pytestmark = pytest.mark.slow

#: Dice of the ventricles (label 1) on held-out phantoms (demo seed 1) with the shipped weights.
CT_VENTRICLE_DICE = 0.6
US_VENTRICLE_DICE = 0.8
#: The same phantom as NIfTI and as DICOM-derived NIfTI must give (almost) the same labels.
NIFTI_VS_DICOM_AGREEMENT = 0.95

CT_CASE = "ct_002"  # the test split of the 3-case demo set
US_CASE = "us_004"  # held out; us_000 and us_001 are labelled for the training test
TIMEOUT_INFER = 240
TIMEOUT_TRAIN = 420


@pytest.fixture(scope="module")
def server(tmp_path_factory, label_bundles, demo_root):
    tmp = tmp_path_factory.mktemp("label_server")
    studies = tmp / "studies"
    studies.mkdir()
    ct, us = demo_root["ct"], demo_root["us"]
    shutil_copy(ct / "images" / f"{CT_CASE}.nii.gz", studies / "ct_nifti.nii.gz")
    dicom_to_nifti_with_monailabel(ct / "dicom" / CT_CASE, studies / "ct_dicom.nii.gz")
    shutil_copy(us / "png" / f"{US_CASE}.png", studies / "us_frame.png")
    # an unfamiliar frame (noise, nothing like the training phantoms) for the active-learning strategy
    noise = np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8)
    Image.fromarray(noise, mode="L").save(studies / "us_png_noise.png")
    # a gantry-tilted CT as dcm2niix writes it: a sheared affine (z axis leaning 20 degrees towards y)
    ct_img = nib.load(str(ct / "images" / f"{CT_CASE}.nii.gz"))
    sheared = ct_img.affine.copy()
    sheared[1, 2] = np.tan(np.deg2rad(20.0)) * sheared[2, 2]
    nib.save(nib.Nifti1Image(np.asarray(ct_img.dataobj), sheared), str(studies / "ct_sheared.nii.gz"))
    frame = nib.load(str(us / "images" / f"{US_CASE}.nii.gz"))
    nib.save(frame, str(studies / "us_nifti2d.nii.gz"))
    # a single-frame ultrasound DICOM reaches MONAI Label as a (W, H, 1) NIfTI (DICOMweb, dcm2niix, Slicer)
    nib.save(nib.Nifti1Image(np.asarray(frame.dataobj)[..., None], frame.affine), str(studies / "us_slab.nii.gz"))
    for k in (0, 1):
        shutil_copy(us / "png" / f"us_00{k}.png", studies / f"us_train_{k}.png")
    shipped = prepare_app(tmp, label_bundles)
    proc, url = start_label_server(tmp, studies, list(label_bundles.values()))
    try:
        yield {"url": url, "tmp": tmp, "studies": studies, "shipped": shipped, "proc": proc}
    finally:
        proc.stop()


def _infer(server, model: str, image: str, out: Path) -> Path:
    status, headers, body = http(
        "POST", f"{server['url']}/infer/{model}?image={image}&output=image", data=b"", timeout=TIMEOUT_INFER
    )
    assert status == 200, f"HTTP {status}: {body[:2000]!r}\n{server['proc'].log_tail()}"
    out.write_bytes(body)
    return out


def _require_shipped(server, model: str) -> None:
    if not server["shipped"][model]:
        pytest.skip(f"{model} has no shipped models/model.pt yet: grid checked, Dice not")


def test_info_lists_both_models(server):
    status, _, body = http("GET", f"{server['url']}/info/")
    assert status == 200
    info = json.loads(body)
    models = info["models"]
    assert set(models) == {CT_NAME, US_NAME}
    # MONAI Label lower-cases label names and drops background (monailabel/tasks/infer/bundle.py:141-144)
    assert models[CT_NAME]["labels"] == {"ventricles": 1, "edh": 2, "sdh": 3, "iph": 4, "ivh": 5}
    assert models[US_NAME]["labels"] == {"ventricles": 1, "ivh_clot": 2}
    assert models[CT_NAME]["dimension"] == 3 and models[US_NAME]["dimension"] == 2
    assert models[CT_NAME]["type"] == models[US_NAME]["type"] == "segmentation"
    assert set(info["trainers"]) == {CT_NAME, US_NAME}


@pytest.fixture(scope="module")
def ct_predictions(server):
    """Label maps for the CT phantom given as NIfTI and as the DICOM-derived NIfTI."""
    tmp = server["tmp"]
    return {
        "nifti": _infer(server, CT_NAME, "ct_nifti", tmp / "pred_ct_nifti.nii.gz"),
        "dicom": _infer(server, CT_NAME, "ct_dicom", tmp / "pred_ct_dicom.nii.gz"),
    }


@pytest.mark.parametrize("source", ["nifti", "dicom"])
def test_ct_label_map_on_the_input_grid(server, ct_predictions, source):
    image = nib.load(str(server["studies"] / f"ct_{source}.nii.gz"))
    pred = nib.load(str(ct_predictions[source]))
    assert pred.shape == image.shape == (128, 128, 32)
    np.testing.assert_allclose(pred.affine, image.affine, atol=1e-3)
    values = np.unique(np.asarray(pred.dataobj))
    assert set(values.tolist()) <= set(range(6)), values


def test_ct_nifti_and_dicom_give_the_same_labels(ct_predictions):
    a = np.asarray(nib.load(str(ct_predictions["nifti"])).dataobj)
    b = np.asarray(nib.load(str(ct_predictions["dicom"])).dataobj)
    assert float(np.mean(a == b)) >= NIFTI_VS_DICOM_AGREEMENT


def test_ct_labels_equal_the_bundle_pipeline(server, ct_predictions):
    """MONAI Label's result is the bundle's own pipeline result, voxel for voxel (whatever the weights)."""
    tmp = server["tmp"]
    image = server["studies"] / "ct_nifti.nii.gz"
    own = bundle_pipeline_labels(tmp / "app" / "model" / CT_NAME, image, tmp / "own.npy")
    served = np.asarray(nib.load(str(ct_predictions["nifti"])).dataobj)
    assert own.shape == served.shape
    assert float(np.mean(own == served)) >= 0.999


@pytest.mark.parametrize("source", ["nifti", "dicom"])
def test_ct_dice_with_shipped_weights(server, demo_root, ct_predictions, source):
    _require_shipped(server, CT_NAME)
    truth = nib.load(str(demo_root["ct"] / "labels" / f"{CT_CASE}.nii.gz"))
    pred = nib.load(str(ct_predictions[source]))
    np.testing.assert_allclose(pred.affine, truth.affine, atol=1e-3)  # the DICOM series has the phantom's grid
    dice = mean_dice(np.asarray(pred.dataobj), np.asarray(truth.dataobj), labels=[1])
    assert dice >= CT_VENTRICLE_DICE, f"ventricle Dice {dice:.3f} < {CT_VENTRICLE_DICE} ({source})"


def test_us_png_label_map_and_dice(server, demo_root):
    out = _infer(server, US_NAME, "us_frame", server["tmp"] / "pred_us.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pred = np.asarray(Image.open(out))
    frame = np.asarray(Image.open(server["studies"] / "us_frame.png"))
    assert pred.shape == frame.shape == (256, 256) and pred.dtype == np.uint8
    assert set(np.unique(pred).tolist()) <= {0, 1, 2}
    _require_shipped(server, US_NAME)
    truth = np.asarray(nib.load(str(demo_root["us"] / "labels" / f"{US_CASE}.nii.gz")).dataobj)
    dice = mean_dice(pred.T, truth, labels=[1])  # PNG rows are y; the NIfTI is (x, y)
    assert dice >= US_VENTRICLE_DICE, f"ventricle Dice {dice:.3f} < {US_VENTRICLE_DICE}"


@pytest.mark.parametrize("image, shape", [("us_nifti2d", (256, 256)), ("us_slab", (256, 256, 1))])
def test_us_nifti_label_map_and_dice(server, demo_root, image, shape):
    out = _infer(server, US_NAME, image, server["tmp"] / f"pred_{image}.nii.gz")
    pred = nib.load(str(out))
    source = nib.load(str(server["studies"] / f"{image}.nii.gz"))
    assert pred.shape == source.shape == shape
    np.testing.assert_allclose(pred.affine, source.affine, atol=1e-4)
    _require_shipped(server, US_NAME)
    truth = np.asarray(nib.load(str(demo_root["us"] / "labels" / f"{US_CASE}.nii.gz")).dataobj)
    dice = mean_dice(np.asarray(pred.dataobj).reshape(truth.shape), truth, labels=[1])
    assert dice >= US_VENTRICLE_DICE, f"ventricle Dice {dice:.3f} < {US_VENTRICLE_DICE} ({image})"


def _put_label(server, image: str, label: Path) -> None:
    body, ctype = multipart_body({"label": (label.name, label.read_bytes(), "application/octet-stream")})
    status, _, res = http(
        "PUT", f"{server['url']}/datastore/label?image={image}&tag=final", data=body, headers={"Content-Type": ctype}
    )
    assert status == 200, res[:1000]
    assert json.loads(res) == {"image": image, "label": image}


def test_save_labels_train_one_epoch_then_infer(server, demo_root):
    tmp, us = server["tmp"], demo_root["us"]
    for k in (0, 1):
        _put_label(server, f"us_train_{k}", write_label_png(us / "labels" / f"us_00{k}.nii.gz", tmp / f"l{k}.png"))
    # a CT label in the same datastore: the 2D trainer must skip it (cranialseg/label/train.py)
    _put_label(server, "ct_nifti", shutil_copy(demo_root["ct"] / "labels" / f"{CT_CASE}.nii.gz", tmp / "l.nii.gz"))
    for k in (0, 1):
        assert (server["studies"] / "labels" / "final" / f"us_train_{k}.png").exists()

    weights = tmp / "app" / "model" / US_NAME / "models" / "model.pt"
    before = hashlib.sha256(weights.read_bytes()).hexdigest()
    keys_before = set(torch.load(weights, map_location="cpu", weights_only=True))
    params = {"max_epochs": 1, "val_split": 0.5, "device": "cpu", "multi_gpu": False}
    # asynchronous, as 3D Slicer and OHIF start it: MONAI Label trains in a subprocess; poll GET /train/
    status, _, body = http(
        "POST",
        f"{server['url']}/train/{US_NAME}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, f"HTTP {status}: {body[:2000]!r}"
    deadline = time.monotonic() + TIMEOUT_TRAIN
    task = json.loads(body)
    while task.get("status") in ("SUBMITTED", "RUNNING") and time.monotonic() < deadline:
        time.sleep(2)
        task = json.loads(http("GET", f"{server['url']}/train/")[2])
    assert task.get("status") == "DONE", f"training {task.get('status')}: {task.get('details')}"
    log = server["proc"].log_tail(200_000)
    assert "Total Records for Training: 1" in log and "1 labelled image(s) of another dimension skipped" in log
    assert hashlib.sha256(weights.read_bytes()).hexdigest() != before, "training wrote no new models/model.pt"
    state = torch.load(weights, map_location="cpu", weights_only=True)
    assert set(state) == keys_before and all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())

    out = _infer(server, US_NAME, "us_frame", tmp / "pred_us_after_training.png")
    assert np.asarray(Image.open(out)).shape == (256, 256)
    # /info/ reports the run like MONAI Label's own trainers (cranialseg/label/stats.py)
    info = json.loads(http("GET", f"{server['url']}/info/")[2])
    stats = info["train_stats"][US_NAME]
    assert stats["epoch"] == stats["total_epochs"] == 1 and "total_time" in stats
    assert np.isfinite(stats["loss"]) and stats["loss"] > 0
    assert stats["eval"]["key_metric_name"] and stats["eval"]["best_metric_epoch"] == 1
    assert 0.0 <= stats["best_metric"] <= 1.0 and info["train_stats"][CT_NAME] == {}


@pytest.mark.parametrize("model, image, expects", [(US_NAME, "ct_nifti", "2D US"), (CT_NAME, "us_frame", "3D CT")])
def test_wrong_modality_returns_the_message_with_422(server, model, image, expects):
    status, _, body = http("POST", f"{server['url']}/infer/{model}?image={image}&output=image", data=b"", timeout=120)
    assert status == 422, f"HTTP {status}: {body[:2000]!r}"
    detail = json.loads(body)["detail"]
    assert detail.startswith(f"{model}: ") and f"expects {expects}" in detail and "use the bundle" in detail


def test_ct_label_on_a_sheared_input_grid(server):
    """The label of a sheared-affine input has the input's exact affine and shape (not ITK's straightened grid)."""
    out = _infer(server, CT_NAME, "ct_sheared", server["tmp"] / "pred_ct_sheared.nii.gz")
    src, pred = nib.load(str(server["studies"] / "ct_sheared.nii.gz")), nib.load(str(out))
    assert abs(src.affine[1, 2]) > 0.5  # the shear is there
    assert pred.shape == src.shape
    np.testing.assert_allclose(pred.affine, src.affine, atol=1e-4)
    np.testing.assert_allclose(pred.get_sform(), src.get_sform(), atol=1e-4)
    far = np.array([*(np.array(src.shape) - 1), 1.0])
    assert np.linalg.norm((pred.affine @ far - src.affine @ far)[:3]) < 1e-3  # far corner on the same point
    assert np.asarray(pred.dataobj).dtype == np.uint8 and set(np.unique(pred.dataobj).tolist()) <= set(range(6))


def test_us_png_flip_disagreement_picks_the_unfamiliar_frame(server):
    """The uncertainty strategy ranks the noise frame above held-out phantoms like the training ones."""
    _require_shipped(server, US_NAME)
    info = json.loads(http("GET", f"{server['url']}/info/")[2])
    assert "flip_disagreement" in info["strategies"]
    status, _, body = http(
        "POST",
        f"{server['url']}/activelearning/flip_disagreement",
        data=json.dumps({"model": US_NAME}).encode(),
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT_INFER,
    )
    assert status == 200, f"HTTP {status}: {body[:2000]!r}\n{server['proc'].log_tail()}"
    res = json.loads(body)
    assert res["id"] == "us_png_noise", res.get("scores")
    assert res["scores"]["us_png_noise"] > 1.5 * res["scores"]["us_frame"]
    assert not any(k.startswith("ct_") for k in res["scores"])  # 3D volumes are not candidates for the 2D model
