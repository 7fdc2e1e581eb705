"""multi_gpu_train.json: real DistributedDataParallel training with 2 processes (gloo on CPU) via torchrun."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from tests.bundle.helpers import CT_BUNDLE, REPO_ROOT


def free_port() -> int:
    """A TCP port nobody listens on now, so concurrent test runs do not collide on a fixed rendezvous port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_two_processes_gloo(ct_demo, tmp_path):
    configs = CT_BUNDLE / "configs"
    content = json.loads(ct_demo.read_text())
    content["validation"] = content["validation"] + content["test"]  # at least one validation case per rank
    datalist = ct_demo.parent / "datalist_ddp.json"
    datalist.write_text(json.dumps(content, indent=4))
    assert len(content["training"]) >= 2 and len(content["validation"]) >= 2
    files = json.dumps([str(configs / "train.json"), str(configs / "multi_gpu_train.json")])
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
        "-m", "monai.bundle", "run", "training",
        "--config_file", files,
        "--meta_file", str(configs / "metadata.json"),
        "--logging_file", str(configs / "logging.conf"),
        "--bundle_root", str(tmp_path),
        "--datalist_file", str(datalist),
        "--max_epochs", "1",
        "--val_interval", "1",
        "--pixdim", "[3.6,3.6,10.0]",
        "--roi_size", "[32,32,8]",
        "--network_def#channels", "[8,16,32,64]",
        "--network_def#num_heads", "2",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "val_mean_dice" in log
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in state)  # DDP wrapper not in the saved weights


@pytest.mark.slow
def test_torchrun_inference_shards_cases_across_two_processes(tmp_path):
    """multi_gpu_inference.json: 2 gloo CPU processes split the discovered cases; every case is done exactly once
    and rank 0 merges one run_summary.json."""
    import nibabel as nib
    import numpy as np

    from tests.bundle.helpers import TINY_CT_OVERRIDES, save_tiny_checkpoint

    save_tiny_checkpoint(CT_BUNDLE, tmp_path / "root", TINY_CT_OVERRIDES)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(5):
        vol = np.full((12, 10, 6), -1000.0, np.float32)
        vol[2 + i : 8, 3:7, 1:5] = 40.0
        nib.save(nib.Nifti1Image(vol, np.diag([2.0, 2.0, 5.0, 1.0])), str(inputs / f"case{i}.nii.gz"))
    configs = CT_BUNDLE / "configs"
    files = json.dumps([str(configs / "inference.json"), str(configs / "multi_gpu_inference.json")])
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
        "-m", "monai.bundle", "run",
        "--config_file", files,
        "--meta_file", str(configs / "metadata.json"),
        "--logging_file", str(configs / "logging.conf"),
        "--bundle_root", str(tmp_path / "root"),
        "--input_dir", str(inputs),
        "--output_dir", str(tmp_path / "out"),
        "--roi_size", "[32,32,8]",
        "--network_def#channels", "[8,16,32,64]",
        "--network_def#num_heads", "2",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())
    names = sorted(c["name"] for c in summary["cases"])
    assert names == [f"case{i}" for i in range(5)] and summary["num_succeeded"] == 5 and summary["world_size"] == 2
    assert sorted(c["rank"] for c in summary["cases"]) == [0, 0, 0, 1, 1]
    assert not list((tmp_path / "out").glob("run_summary.rank*.json"))
    assert len(list((tmp_path / "out").glob("*_done.json"))) == 5
