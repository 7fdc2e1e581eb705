"""scripts/gpu_check.py: the pass/fail logic of the GPU check's Python steps (the GPU run itself is the lead's)."""

from __future__ import annotations

import importlib.util
import json
import subprocess

import torch

from tests.bundle.helpers import REPO_ROOT


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO_ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary(folder, dice: dict, n: int = 2) -> str:
    folder.mkdir()
    per_class = {k: {"dice": v} for k, v in dice.items()}
    (folder / "metrics_summary.json").write_text(json.dumps({"num_cases": n, "mean_dice": 0.5, "per_class": per_class}))
    return str(folder)


def test_shell_script_parses():
    assert subprocess.run(["bash", "-n", str(REPO_ROOT / "scripts" / "gpu_check.sh")]).returncode == 0


def test_compare_eval(tmp_path, monkeypatch):
    gc = _load()
    monkeypatch.setenv("GPU_CHECK_NOTE", str(tmp_path / "note"))
    ref = _summary(tmp_path / "fp32", {"ventricles": 0.80, "IVH": None})

    def compare(name: str, dice: dict) -> int:
        return gc.main(["compare_eval", "--amp-dir", _summary(tmp_path / name, dice), "--fp32-dir", ref])

    assert compare("a", {"ventricles": 0.79, "IVH": None}) == 0
    assert "0.790/0.800" in (tmp_path / "note").read_text()
    assert compare("b", {"ventricles": 0.0, "IVH": None}) == 1  # e.g. NaN output under float16: Dice 0
    assert compare("c", {"ventricles": 0.8, "IVH": 0.1}) == 1  # a class scored in one run only


def test_trained_needs_optimizer_steps_and_finite_weights(tmp_path):
    gc = _load()
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(net.parameters())
    torch.save(net.state_dict(), tmp_path / "model.pt")
    torch.save({"network": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "checkpoint_epoch=1.pt")
    assert gc.main(["trained", "--ckpt-dir", str(tmp_path)]) == 1  # GradScaler skipped every step: no step taken
    net(torch.ones(1, 2)).sum().backward()
    opt.step()
    torch.save({"network": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "checkpoint_epoch=1.pt")
    assert gc.main(["trained", "--ckpt-dir", str(tmp_path)]) == 0
    with torch.no_grad():
        net.weight[0, 0] = float("nan")
    torch.save(net.state_dict(), tmp_path / "model.pt")
    assert gc.main(["trained", "--ckpt-dir", str(tmp_path)]) == 1


def test_amp_defaults_on_the_cpu():
    assert _load().main(["amp_defaults", "--device", "cpu"]) == 0
