"""BatchInference: outputs on the input grid, per-case isolation, completion records, summary history, booleans."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.inferers import SimpleInferer
from monai.transforms import AsDiscreted, Compose, CopyItemsd, EnsureTyped, Invertd, Spacingd

from cranialseg.engines import BatchFailedError, BatchInference
from cranialseg.io import LoadCranialImaged, SaveLabelNiftid, SaveOverlayd, SaveVolumesd
from cranialseg.networks import load_network
from cranialseg.utils import as_bool


class Threshold(torch.nn.Module):
    """Two-class logits: class 1 where the input is above 0.5 (a known, exact segmentation)."""

    def forward(self, x):
        return torch.cat([0.5 - x, x - 0.5], dim=1)


class FailingWriter:
    """A writer that fails once (a full disk, a failed SEG) after the other outputs were written."""

    def __init__(self):
        self.calls = 0

    def __call__(self, d):
        self.calls += 1
        if self.calls == 1:
            raise OSError(28, "No space left on device")
        return d


def _write_volume(path, values, affine):
    nib.save(nib.Nifti1Image(values.astype(np.float32), affine), path)


@pytest.fixture()
def folder(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    affine = np.array([[-1.5, 0, 0, 3], [0, 1.5, 0, -2], [0, 0, 4.0, 7], [0, 0, 0, 1]])
    vol = np.zeros((9, 10, 5))
    vol[2:6, 3:8, 1:4] = 1.0
    _write_volume(inputs / "a.nii.gz", vol, affine)
    _write_volume(inputs / "b.nii", np.flip(vol, 0), np.diag([1.0, 1.0, 2.0, 1.0]))
    (inputs / "broken.nii.gz").write_bytes(b"not a nifti file")
    return inputs, vol, affine


def _runner(inputs, outputs, extra_writers=(), **kw):
    pre = Compose(
        [
            LoadCranialImaged("image", ensure_channel_first=True),
            CopyItemsd("image", names="original_image"),
            Spacingd("image", pixdim=(2.0, 2.0, 2.0), mode="nearest"),
            EnsureTyped("image"),
        ]
    )
    post = Compose(
        [
            Invertd("pred", transform=pre, orig_keys="image", nearest_interp=False),
            AsDiscreted("pred", argmax=True),
        ]
    )
    names = ["background", "blob"]
    writers = [SaveLabelNiftid("pred"), SaveVolumesd("pred", class_names=names), *extra_writers, SaveOverlayd("pred")]
    return BatchInference(
        inputs, outputs, network=Threshold(), preprocessing=pre, inferer=SimpleInferer(), postprocessing=post,
        writers=writers, **kw,
    )  # fmt: skip


def test_outputs_grid_failures_and_no_overwrite(folder, tmp_path):
    inputs, vol, affine = folder
    outputs = tmp_path / "out"
    summary = _runner(inputs, outputs, fail_on_error=False).run()
    assert summary["num_cases"] == 3 and summary["num_succeeded"] == 2 and summary["num_failed"] == 1
    assert (
        summary["failures"][0]["name"] == "broken" and str(inputs / "broken.nii.gz") in summary["failures"][0]["error"]
    )
    seg = nib.load(outputs / "a_seg.nii.gz")
    np.testing.assert_allclose(seg.affine, affine)
    assert seg.shape == vol.shape
    # resampling to 2 mm and back (Invertd) keeps the blob in place: the map overlaps the truth
    out = np.asarray(seg.dataobj)
    assert 2.0 * (out * vol).sum() / (out.sum() + vol.sum()) > 0.75
    volumes = json.loads((outputs / "a_volumes.json").read_text())
    assert volumes["source"] == str(inputs / "a.nii.gz")
    blob = volumes["classes"]["blob"]
    assert blob["voxels"] == int(out.sum()) and blob["volume_ml"] == pytest.approx(out.sum() * 9.0 / 1000, 1e-3)
    assert (outputs / "a_overlay.png").is_file() and (outputs / "run_summary.json").is_file()
    record = json.loads((outputs / "a_done.json").read_text())
    assert record["source"] == str(inputs / "a.nii.gz") and set(record["outputs"]) == {"nifti", "volumes", "overlay"}
    first = (outputs / "a_seg.nii.gz").stat().st_mtime_ns

    again = _runner(inputs, outputs, fail_on_error=False, overwrite="false").run()
    assert again["num_skipped"] == 2 and again["num_succeeded"] == 0
    assert (outputs / "a_seg.nii.gz").stat().st_mtime_ns == first
    forced = _runner(inputs, outputs, fail_on_error=False, overwrite="TRUE").run()
    assert forced["num_succeeded"] == 2
    assert sorted(p.name for p in inputs.iterdir()) == ["a.nii.gz", "b.nii", "broken.nii.gz"]  # inputs untouched
    assert not [p for p in outputs.iterdir() if p.name.startswith(".")]  # no temporary files left
    # the summary keeps the earlier runs (and their failures)
    history = json.loads((outputs / "run_summary.json").read_text())["history"]
    assert [h["num_succeeded"] for h in history] == [2, 0] and history[0]["failures"][0]["name"] == "broken"


def test_failed_batch_exits_non_zero_after_writing_the_summary(folder, tmp_path):
    inputs, _, _ = folder
    with pytest.raises(BatchFailedError, match="1 of 3 cases failed"):
        _runner(inputs, tmp_path / "out").run()
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())
    assert summary["num_succeeded"] == 2 and summary["num_failed"] == 1


def test_model_notice_travels_with_every_run(folder, tmp_path, caplog):
    """What the weights can and cannot be used for is logged and written into run_summary.json (issue 17.4)."""
    inputs, _, _ = folder
    notice = "trained on phantoms: never use the haemorrhage output"
    with caplog.at_level("WARNING", logger="cranialseg.engines.batch_inference"):
        summary = _runner(inputs, tmp_path / "out", fail_on_error=False, model_notice=notice).run()
    assert summary["model_notice"] == notice
    assert json.loads((tmp_path / "out" / "run_summary.json").read_text())["model_notice"] == notice
    assert any(notice in r.getMessage() for r in caplog.records)
    assert "model_notice" not in _runner(inputs, tmp_path / "plain", fail_on_error=False).run()


@pytest.mark.parametrize("bundle", ["head_ct_haemorrhage_segmentation", "cranial_us_ventricle_segmentation"])
def test_phantom_bundles_declare_their_limits(bundle):
    cfg = json.loads((Path(__file__).parents[2] / "bundle" / bundle / "configs" / "inference.json").read_text())
    assert "not for clinical use" in cfg["model_notice"] and cfg["batch_inference"]["model_notice"] == "@model_notice"


def test_incomplete_case_is_redone(folder, tmp_path):
    """A writer failing after the label map was written (full disk): no completion record, so the re-run redoes it."""
    inputs, _, _ = folder
    (inputs / "broken.nii.gz").unlink()
    outputs = tmp_path / "out"
    failing = FailingWriter()
    first = _runner(inputs, outputs, extra_writers=[failing], fail_on_error=False).run()
    assert first["num_failed"] == 1 and "No space left" in first["failures"][0]["error"]
    failed = first["failures"][0]["name"]
    assert (outputs / f"{failed}_seg.nii.gz").is_file() and not (outputs / f"{failed}_done.json").exists()
    second = _runner(inputs, outputs, extra_writers=[failing], fail_on_error=False).run()
    assert [c["name"] for c in second["cases"]] == [failed] and second["num_skipped"] == 1
    assert (outputs / f"{failed}_done.json").is_file()


def test_read_only_output_folder_refused_before_inference(folder, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    inputs, _, _ = folder
    outputs = tmp_path / "ro"
    outputs.mkdir()
    outputs.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="cannot be written"):
            _runner(inputs, outputs).run()
    finally:
        outputs.chmod(0o755)


def test_output_folder_that_cannot_be_created_refused_before_inference(folder, tmp_path):
    inputs, _, _ = folder
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(PermissionError, match="cannot be written"):
        _runner(inputs, tmp_path / "a_file" / "out").run()


def test_full_output_folder_refused_before_inference(folder, tmp_path):
    inputs, _, _ = folder
    runner = _runner(inputs, tmp_path / "out", min_free_mb=1e12)
    with pytest.raises(OSError, match="min_free_mb"):
        runner.run()
    assert not (tmp_path / "out" / "a_seg.nii.gz").exists()


@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), ("false", False), ("FALSE", False), ("True", True), ("1", True), ("0", False),
     (0, False), (1, True), (" no ", False), ("yes", True)],
)  # fmt: skip
def test_booleans_mean_what_users_type(value, expected):
    assert as_bool(value, "overwrite") is expected


@pytest.mark.parametrize("value", ["ture", "", "2", 2, None, [True]])
def test_bad_boolean_names_the_option(value):
    with pytest.raises(ValueError, match="option 'write_dicom_seg'"):
        as_bool(value, "write_dicom_seg")


def test_engine_options_parse_booleans(folder, tmp_path):
    inputs, _, _ = folder
    runner = _runner(inputs, tmp_path / "o", overwrite="false", amp="0", fail_on_error="False")
    assert (runner.overwrite, runner.amp, runner.fail_on_error) == (False, False, False)
    with pytest.raises(ValueError, match="option 'overwrite'"):
        _runner(inputs, tmp_path / "o", overwrite="nope")


def test_load_network_plain_and_training_checkpoints(tmp_path):
    net = torch.nn.Linear(3, 2)
    torch.save(net.state_dict(), tmp_path / "model.pt")
    torch.save({"network": net.state_dict(), "optimizer": {}}, tmp_path / "checkpoint.pt")
    for name in ("model.pt", "checkpoint.pt"):
        other = load_network(torch.nn.Linear(3, 2), tmp_path / name)
        torch.testing.assert_close(other.weight, net.weight)
        assert not other.training
    with pytest.raises(FileNotFoundError, match="train the bundle"):
        load_network(net, tmp_path / "missing.pt")


def test_one_file_as_input_dir(folder, tmp_path):
    inputs, vol, _ = folder
    summary = _runner(inputs / "a.nii.gz", tmp_path / "out").run()
    assert [c["name"] for c in summary["cases"]] == ["a"] and summary["num_cases"] == 1
    assert nib.load(tmp_path / "out" / "a_seg.nii.gz").shape == vol.shape


def test_output_folder_inside_input_folder_is_not_read_back(folder):
    """Outputs of an earlier run are not inputs; inputs named like outputs (``x_seg.nii.gz``) are."""
    inputs, vol, affine = folder
    (inputs / "broken.nii.gz").unlink()
    _write_volume(inputs / "x_seg.nii.gz", vol, affine)
    _write_volume(inputs / "run_summary.nii.gz", vol, affine)
    outputs = inputs / "results"
    first = _runner(inputs, outputs).run()
    assert sorted(c["name"] for c in first["cases"]) == ["a", "b", "run_summary", "x_seg"]
    second = _runner(inputs, outputs).run()
    assert second["num_skipped"] == 4 and second["num_cases"] == 4
    assert [g["reason"].split(":")[0] for g in second["ignored"]] == ["inside the output folder"]
