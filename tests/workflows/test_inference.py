"""BatchInference: outputs on the input grid, skip-on-error, no overwrite, run summary."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.inferers import SimpleInferer
from monai.transforms import AsDiscreted, Compose, EnsureTyped, Invertd, LoadImaged, Spacingd

from cranialseg.workflows import BatchInference, discover_input_cases, load_network


class Threshold(torch.nn.Module):
    """Two-class logits: class 1 where the input is above 0.5 (a known, exact segmentation)."""

    def forward(self, x):
        return torch.cat([0.5 - x, x - 0.5], dim=1)


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


def _runner(inputs, outputs, **kw):
    pre = Compose(
        [
            LoadImaged("image", ensure_channel_first=True, image_only=True),
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
    loader = LoadImaged("image", ensure_channel_first=True, image_only=True)
    return BatchInference(
        inputs,
        outputs,
        network=Threshold(),
        preprocessing=pre,
        inferer=SimpleInferer(),
        postprocessing=post,
        class_names=["background", "blob"],
        loader=loader,
        **kw,
    )


def test_outputs_grid_failures_and_no_overwrite(folder, tmp_path):
    inputs, vol, affine = folder
    outputs = tmp_path / "out"
    summary = _runner(inputs, outputs).run()
    assert summary["num_cases"] == 3 and summary["num_succeeded"] == 2 and summary["num_failed"] == 1
    assert summary["failures"][0]["name"] == "broken"
    seg = nib.load(outputs / "a_seg.nii.gz")
    np.testing.assert_allclose(seg.affine, affine)
    assert seg.shape == vol.shape
    # resampling to 2 mm and back (Invertd) keeps the blob in place: the map overlaps the truth
    out = np.asarray(seg.dataobj)
    assert 2.0 * (out * vol).sum() / (out.sum() + vol.sum()) > 0.75
    volumes = json.loads((outputs / "a_volumes.json").read_text())["classes"]["blob"]
    assert volumes["voxels"] == int(out.sum()) and volumes["volume_ml"] == pytest.approx(out.sum() * 9.0 / 1000, 1e-3)
    assert (outputs / "a_overlay.png").is_file() and (outputs / "run_summary.json").is_file()
    first = (outputs / "a_seg.nii.gz").stat().st_mtime_ns

    again = _runner(inputs, outputs).run()
    assert again["num_skipped"] == 2 and again["num_succeeded"] == 0
    assert (outputs / "a_seg.nii.gz").stat().st_mtime_ns == first
    forced = _runner(inputs, outputs, overwrite=True).run()
    assert forced["num_succeeded"] == 2
    assert sorted(p.name for p in inputs.iterdir()) == ["a.nii.gz", "b.nii", "broken.nii.gz"]  # inputs untouched
    assert not [p for p in outputs.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_discover_ignores_outputs_and_reports_missing(tmp_path, folder):
    inputs, _, _ = folder
    (inputs / "a_seg.nii.gz").write_bytes(b"")
    names = [c.name for c in discover_input_cases(inputs)]
    assert "a" in names and "b" in names and not any("seg" in n for n in names)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover_input_cases(tmp_path / "missing")


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
