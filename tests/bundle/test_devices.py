"""CUDA paths checked without a GPU (issue 19): devices at the metrics, GPU-saved checkpoints on a CPU-only
machine, rank-dependent handlers and samplers of multi_gpu_train.json."""

from __future__ import annotations

import shutil

import pytest
import torch
from monai.bundle import ConfigParser

from tests.bundle.helpers import CT_BUNDLE, TINY_CT_OVERRIDES, US_BUNDLE, save_as_if_on_cuda, save_tiny_checkpoint

BUNDLES = pytest.mark.parametrize("bundle", [US_BUNDLE, CT_BUNDLE], ids=["us", "ct"])


def parse(bundle, *configs: str, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(bundle / "configs" / c) for c in configs])
    parser.update(overrides)
    return parser


@BUNDLES
def test_evaluation_moves_pred_and_label_to_one_device_before_the_metrics(bundle):
    # pred comes from the inferer and Invertd on the network's device; label is the loader's original label (CPU)
    parser = parse(bundle, "train.json", "evaluate.json")
    transforms = parser.get_parsed_content("validate#postprocessing").transforms
    names = [type(t).__name__ for t in transforms]
    writes = [
        i
        for i, t in enumerate(transforms)
        if (names[i] == "CopyItemsd" and {"pred", "label"} & set(t.names))
        or (names[i] == "Invertd" and "pred" in t.keys)
    ]
    moves = [i for i, t in enumerate(transforms) if names[i] == "ToDeviced" and {"pred", "label"} <= set(t.keys)]
    assert moves, f"no ToDeviced on pred and label in {names}"
    assert moves[-1] > max(writes), names  # after the last transform that (re)creates pred or label
    assert torch.device(transforms[moves[-1]].converter.device) == parser.get_parsed_content("device")


def test_a_gpu_saved_checkpoint_is_refused_without_map_location(tmp_path):
    # the failure the configs must avoid: what ignite (MONAI's ckpt_export) does on a CPU-only machine
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the CUDA-tagged checkpoint loads")
    path = tmp_path / "model.pt"
    save_as_if_on_cuda({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(path, weights_only=True)
    assert torch.load(path, weights_only=True, map_location="cpu")["w"].device.type == "cpu"


def test_gpu_saved_weights_load_and_export_on_the_cpu(tmp_path):
    from monai.handlers import CheckpointLoader

    shutil.copytree(CT_BUNDLE / "configs", tmp_path / "configs")
    cpu_ckpt = save_tiny_checkpoint(CT_BUNDLE, tmp_path, TINY_CT_OVERRIDES)
    state = torch.load(cpu_ckpt, weights_only=True)
    save_as_if_on_cuda(state, cpu_ckpt)  # models/model.pt as written by a GPU training
    parser = parse(CT_BUNDLE, "inference.json", bundle_root=str(tmp_path), **TINY_CT_OVERRIDES)
    x = torch.rand(1, 3, 32, 32, 16)
    # inference.json's network (load_network, map_location=@device)
    net = parser.get_parsed_content("network")
    with torch.no_grad():
        want = net(x)
    for key, value in state.items():
        torch.testing.assert_close(net.state_dict()[key], value)
    # evaluate.json's CheckpointLoader (map_location=@device)
    eval_parser = parse(CT_BUNDLE, "train.json", "evaluate.json", bundle_root=str(tmp_path), **TINY_CT_OVERRIDES)
    loader = eval_parser.get_parsed_content("validate#handlers")[0]
    assert isinstance(loader, CheckpointLoader)
    from ignite.engine import Engine

    loader(Engine(lambda engine, batch: None))
    eval_net = eval_parser.get_parsed_content("network")
    with torch.no_grad():
        torch.testing.assert_close(eval_net.eval()(x), want)
    # export_torchscript (documented instead of ckpt_export, which loads without map_location)
    parser.get_parsed_content("export_torchscript")
    extra = {"metadata.json": "", "inference.json": ""}
    scripted = torch.jit.load(str(tmp_path / "models" / "model.ts"), _extra_files=extra)
    assert b'"version"' in extra["metadata.json"] and b"network_def" in extra["inference.json"]
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), want)


@BUNDLES
def test_multi_gpu_handlers_are_chosen_by_type_not_position(bundle, monkeypatch, tmp_path):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    empty = {"train_datalist": [], "val_datalist": []}
    parser = parse(bundle, "train.json", "multi_gpu_train.json", bundle_root=str(tmp_path), **empty)
    handlers = parser["train"]["handlers"]
    handlers.append({"_target_": "EarlyStopHandler", "patience": 3, "score_function": "$lambda engine: 0.0"})
    parser["train"]["handlers"] = handlers
    parser["network"] = "$@network_def"  # no DDP wrapper and no process group needed to pick the handlers
    parser["validate#handlers"] = []
    # no data needed to pick the handlers (the bundles' filtered datasets refuse an empty datalist)
    parser["train#dataset"] = {"_target_": "Dataset", "data": []}
    parser["validate#dataset"] = {"_target_": "Dataset", "data": []}
    parser["train_network"] = "$@network"
    chosen = [type(h).__name__ for h in parser.get_parsed_content("train#trainer#train_handlers")]
    # rank 1: no console/TensorBoard/progress bar; everything else (the added early stop too)
    assert not {"StatsHandler", "TensorBoardStatsHandler", "ProgressBar"} & set(chosen), chosen
    assert {"ValidationHandler", "LrScheduleHandler", "EarlyStopHandler"} <= set(chosen), chosen


def test_handlers_for_rank(tmp_path):
    from ignite.handlers import ProgressBar
    from monai.handlers import EarlyStopHandler, StatsHandler, TensorBoardStatsHandler

    from cranialseg.handlers import handlers_for_rank

    early = EarlyStopHandler(patience=1, score_function=lambda e: 0.0)
    handlers = [StatsHandler(), early, ProgressBar(), TensorBoardStatsHandler(log_dir=str(tmp_path))]
    assert handlers_for_rank(handlers, rank=0) == handlers
    assert handlers_for_rank(handlers, rank=3) == [early]
    assert handlers_for_rank(None, rank=1) is None


def test_validation_sampler_with_fewer_cases_than_ranks():
    from monai.data import DistributedSampler

    from cranialseg.data import distributed_sampler

    cases = list(range(2))
    with pytest.raises(ValueError, match="less than the number"):  # MONAI's sampler on 6 GPUs, 2 validation cases
        DistributedSampler(cases, even_divisible=False, num_replicas=6, rank=5, shuffle=False)
    per_rank = [list(distributed_sampler(cases, False, False, num_replicas=6, rank=r)) for r in range(6)]
    assert all(len(p) == 1 for p in per_rank) and {i for p in per_rank for i in p} == {0, 1}
    # enough cases: no padding, every case once
    per_rank = [list(distributed_sampler(list(range(5)), False, False, num_replicas=2, rank=r)) for r in range(2)]
    assert sorted(i for p in per_rank for i in p) == [0, 1, 2, 3, 4]
    for bundle in (US_BUNDLE, CT_BUNDLE):
        config = parse(bundle, "train.json", "multi_gpu_train.json")["validate#sampler"]
        assert config["_target_"] == "cranialseg.data.distributed_sampler" and not config["even_divisible"]


@pytest.mark.parametrize("name", sorted(p.name for p in CT_BUNDLE.parent.iterdir() if (p / "models").is_dir()))
def test_training_can_start_from_the_shipped_weights(name):
    """`--pretrained FILE` fine-tunes from a model.pt (the quick start starts from the CT bundle's shipped weights;
    the fetal-head fine-tune on 2 CPU cores from that bundle's)."""
    bundle = CT_BUNDLE.parent / name
    shipped = bundle / "models" / "model.pt"
    parser = parse(bundle, "train.json", pretrained=str(shipped), device="cpu")
    net = parser.get_parsed_content("network")
    state = torch.load(shipped, map_location="cpu", weights_only=True)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, state[key], msg=key)
    assert net.training
    fresh = parse(bundle, "train.json", device="cpu").get_parsed_content("network")
    assert any(not torch.equal(v, state[k]) for k, v in fresh.state_dict().items() if v.is_floating_point())


@pytest.mark.parametrize("bundle", sorted(p.name for p in (CT_BUNDLE.parent).iterdir() if (p / "models").is_dir()))
def test_shipped_weights_are_stored_on_the_cpu(bundle):
    """GPU-trained weights are shipped with CPU tensors: MONAI Label's stock app and `ckpt_export` load them without
    `map_location`, which fails on a CPU-only machine for CUDA storages."""
    path = CT_BUNDLE.parent / bundle / "models" / "model.pt"
    state = torch.load(path, weights_only=True)  # no map_location, on purpose
    assert all(v.device.type == "cpu" for v in state.values())
