"""One copy of each bundle setting: ``inference.json`` holds them, ``train.json`` and its overlays read them.

``train.json`` must stay runnable on its own (``monai.bundle run training --config_file configs/train.json``,
MONAI Label's stock app) from any working directory, and command-line overrides of the shared settings
(``--network_def#input_stride 2``, ``--pixdim "[...]"``, ``--num_classes``) must still reach the training workflow.
"""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
import torch
from monai.bundle import ConfigParser

from cranialseg.utils import read_bundle_config
from tests.bundle.helpers import BUNDLES, CT_BUNDLE, REPO_ROOT

NAMES = ["head_ct_haemorrhage_segmentation", "cranial_us_ventricle_segmentation", "fetal_head_us_segmentation"]
#: plain settings each bundle shares between training and inference (network_def is checked on its own)
SHARED = {
    "head_ct_haemorrhage_segmentation": [
        "class_names",
        "num_classes",
        "lesion_classes",
        "ct_windows",
        "pixdim",
        "roi_size",
        "fp16_safe",
        "ckpt_dir",
    ],
    "cranial_us_ventricle_segmentation": [
        "class_names",
        "num_classes",
        "frame_short_side",
        "roi_size",
        "fp16_safe",
        "clot_min_contact",
        "clot_margin_fraction",
    ],
    "fetal_head_us_segmentation": ["class_names", "num_classes", "image_size", "roi_size", "fp16_safe"],
}


def _verify_script():
    spec = importlib.util.spec_from_file_location("verify_bundle", REPO_ROOT / "scripts" / "verify_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stock_parser(bundle, *files: str, **overrides) -> ConfigParser:
    """Configs read as ``monai.bundle run`` and MONAI Label read them: the files, then ``bundle_root`` and overrides."""
    parser = ConfigParser()
    paths = [str(bundle / "configs" / f) for f in files]
    parser.read_config(paths if len(paths) > 1 else paths[0])
    parser.update({"bundle_root": str(bundle)})
    parser.update(overrides)
    return parser


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_no_setting_is_defined_in_two_config_files(name):
    assert _verify_script().settings_defined_twice(BUNDLES / name / "configs") == []


def test_a_second_copy_is_reported_by_file_and_key(tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(CT_BUNDLE / "configs", configs)
    train = json.loads((configs / "train.json").read_text())
    train["pixdim"] = [1.0, 1.0, 5.0]
    (configs / "train.json").write_text(json.dumps(train, indent=4))
    evaluate = json.loads((configs / "evaluate.json").read_text())
    evaluate["network_def#sparse_norm"] = "sum"
    (configs / "evaluate.json").write_text(json.dumps(evaluate, indent=4))
    twice = _verify_script().settings_defined_twice(configs)
    assert twice == ["train.json: pixdim", "evaluate.json: network_def#sparse_norm"]


@pytest.mark.parametrize("name", NAMES)
def test_train_alone_reads_the_inference_settings_from_any_directory(name, tmp_path, monkeypatch):
    """As MONAI Label's stock app loads it: ``train.json`` alone, ``bundle_root`` set, another working directory."""
    monkeypatch.chdir(tmp_path)
    bundle = BUNDLES / name
    train = stock_parser(bundle, "train.json")
    inference = stock_parser(bundle, "inference.json")
    for key in SHARED[name]:
        assert train.get_parsed_content(key) == inference.get_parsed_content(key), key
    torch.manual_seed(0)
    net_train = train.get_parsed_content("network_def")
    torch.manual_seed(0)
    net_inference = inference.get_parsed_content("network_def")
    assert type(net_train) is type(net_inference)
    assert n_params(net_train) == n_params(net_inference) > 100_000
    for (k1, v1), (k2, v2) in zip(net_train.state_dict().items(), net_inference.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)


@pytest.mark.parametrize("name", NAMES)
def test_network_overrides_reach_training_as_they_reach_inference(name):
    bundle = BUNDLES / name
    spatial = 3 if "ct" in name else 2
    tiny = {"network_def#channels": [8, 16, 32, 64, 128][: 5 if "fetal" in name else 4], "network_def#num_heads": 2}
    lean = {**tiny, "network_def#num_res_units": 2}  # valid with every preset (input_stride is not, with "efficient")
    train_tiny = stock_parser(bundle, "train.json", **tiny).get_parsed_content("network_def")
    train_lean = stock_parser(bundle, "train.json", **lean).get_parsed_content("network_def")
    inference_lean = stock_parser(bundle, "inference.json", **lean).get_parsed_content("network_def")
    full = stock_parser(bundle, "train.json").get_parsed_content("network_def")
    assert n_params(train_tiny) < n_params(full)
    assert n_params(train_lean) == n_params(inference_lean) != n_params(train_tiny)
    assert list(train_lean.state_dict()) == list(inference_lean.state_dict())
    in_channels = stock_parser(bundle, "inference.json").get_parsed_content("network_def#in_channels")
    x = torch.rand(1, in_channels, *([32] * spatial if spatial == 3 else [128, 128]))
    with torch.no_grad():
        out = train_lean.eval()(x)
    assert (out[0] if isinstance(out, (tuple, list)) else out).shape[2:] == x.shape[2:]


def test_class_overrides_reach_the_borrowed_network():
    """``--num_classes``/``--lesion_classes`` on ``train.json`` still size the network's heads, as before."""
    parser = stock_parser(
        CT_BUNDLE, "train.json", num_classes=3, lesion_classes=[1, 2], **{"network_def#channels": [8, 16, 32, 64]}
    )
    net = parser.get_parsed_content("network_def")
    assert (net.out_channels, net.num_image_classes) == (3, 2)


def test_grid_override_reaches_the_training_transforms():
    parser = stock_parser(CT_BUNDLE, "train.json", pixdim=[2.0, 2.0, 4.0])
    spacing = next(t for t in parser.get_parsed_content("grid_transforms") if type(t).__name__ == "Spacingd")
    assert spacing.spacing_transform.pixdim.tolist() == [2.0, 2.0, 4.0]


def test_evaluation_list_form_reads_the_lesion_thresholds_from_inference():
    evaluate = stock_parser(CT_BUNDLE, "train.json", "evaluate.json")
    inference = stock_parser(CT_BUNDLE, "inference.json")
    for key in ("min_lesion_volume_ml", "lesion_bone_threshold", "lesion_bone_margin_mm"):
        assert evaluate.get_parsed_content(key) == inference.get_parsed_content(key), key
    assert evaluate.get_parsed_content("lesion_max_implausible_fraction") == 0.25


def test_missing_shared_settings_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no inference\.json at .*configs/inference\.json.*--bundle_root"):
        read_bundle_config(str(tmp_path), "no_such_bundle")


def test_a_work_folder_as_bundle_root_reads_the_checkout_bundle(tmp_path):
    """``--bundle_root <work folder>`` (data, models, eval there; no configs/) as the tests and benchmarks run it."""
    parser = stock_parser(CT_BUNDLE, "train.json", bundle_root=str(tmp_path))
    assert parser.get_parsed_content("pixdim") == [1.0, 1.0, 5.0]
    assert parser.get_parsed_content("ckpt_dir") == str(tmp_path / "models")
    bundle = read_bundle_config(str(CT_BUNDLE))
    assert bundle.get_parsed_content("ckpt_dir") == str(CT_BUNDLE / "models")


@pytest.mark.parametrize("name", ["cranial_us_ventricle_segmentation", "fetal_head_us_segmentation"])
def test_ultrasound_intensity_scaling_written_once_and_used_by_both(name):
    configs = BUNDLES / name / "configs"
    text = "".join((configs / f).read_text() for f in ("train.json", "evaluate.json", "inference.json"))
    assert text.count('"ScaleIntensityRangePercentilesd"') == 1
    train = stock_parser(BUNDLES / name, "train.json")
    inference = stock_parser(BUNDLES / name, "inference.json")
    scalers = [
        next(t for t in transforms if type(t).__name__ == "ScaleIntensityRangePercentilesd")
        for transforms in (
            train.get_parsed_content("load_transforms"),
            inference.get_parsed_content("preprocessing").transforms,
        )
    ]
    assert [(s.scaler.lower, s.scaler.upper, s.scaler.b_max) for s in scalers] == [(1, 99, 1.0)] * 2
