"""Half precision and the shipped weights (issue 19): activation ranges against float16's 65,504, and the AMP dtype
each bundle picks.

The activation ranges are measured in float32 with forward hooks (``cranialseg.utils.activation_range``) on a
demo phantom pre-processed like inference and cropped to the bundle's ROI, with the bundle's ``models/model.pt``.
A network may run under float16 autocast only with a margin of 4 (largest activation <= 65504 / 4).
"""

from __future__ import annotations

import json

import pytest
import torch
from monai.bundle import ConfigParser
from monai.transforms import CenterSpatialCrop, SpatialPad

from cranialseg.networks import load_network
from cranialseg.utils import activation_range, amp_dtype, fp16_overflows
from tests.bundle.helpers import CT_BUNDLE, US_BUNDLE
from tests.bundle.test_fetal_head import BUNDLE as FETAL_BUNDLE
from tests.bundle.test_fetal_head import HC18, head_picture

BUNDLES = {"us": US_BUNDLE, "ct": CT_BUNDLE, "fetal": FETAL_BUNDLE}
MARGIN = 4.0


def inference_parser(bundle, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update(overrides)
    return parser


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Per bundle: the shipped network (float32, eval), one bundle input (1, C, *roi) and its fp16_safe flag."""
    from cranialseg.demo import ensure_demo_data

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            bundle = BUNDLES[name]
            checkpoint = bundle / "models" / "model.pt"
            if not checkpoint.is_file():
                pytest.skip(f"{checkpoint} not found")
            root = tmp_path_factory.mktemp(f"fp16_{name}")
            if name == "fetal":  # a real HC18 frame when ../shared is there, else a drawn head at the HC18 frame size
                image = HC18 / "images" / "000_HC.png"
                if not image.is_file():
                    from PIL import Image

                    image = root / "frame.png"
                    Image.fromarray(head_picture((800, 540), (400, 270), (250, 170))).save(image)
                image = str(image)
            else:
                extra = {"write_dicom": False} if name == "ct" else {"num_png": 0}
                datalist = ensure_demo_data(root, task=name, num_cases=1, seed=0, **extra)
                image = str(root / json.loads(datalist.read_text())["training"][0]["image"])
            parser = inference_parser(bundle)
            x = parser.get_parsed_content("preprocessing")({"image": image})["image"]
            roi = parser.get_parsed_content("roi_size")
            x = CenterSpatialCrop(roi)(SpatialPad(roi)(x)).as_tensor().unsqueeze(0).float()
            net = load_network(parser.get_parsed_content("network_def"), checkpoint, "cpu")
            cache[name] = (net, x, bool(parser.get_parsed_content("fp16_safe")))
        return cache[name]

    return get


def assert_fp16_range(net, x) -> float:
    ranges = activation_range(net, x)
    over = fp16_overflows(ranges, MARGIN)
    top = sorted(over.items(), key=lambda kv: -kv[1])[:5]
    assert not over, f"activations beyond 65504 / {MARGIN:g} (largest {max(ranges.values()):.4g}): {top}"
    return max(ranges.values())


def test_activation_range_and_overflows():
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    with torch.no_grad():
        net[0].weight.fill_(2e4)
        net[0].bias.zero_()
    ranges = activation_range(net, torch.ones(1, 2))
    assert ranges == {"0": 4e4, "1": 4e4, "": 4e4}
    assert fp16_overflows(ranges) == ranges and fp16_overflows(ranges, margin=1.0) == {}
    assert not net._forward_hooks and not net[0]._forward_hooks  # the hooks are removed
    with torch.no_grad():
        net[0].weight.fill_(float("inf"))
    assert activation_range(net, torch.ones(1, 2))["0"] == float("inf")


@pytest.mark.parametrize("name", ["us", "ct", "fetal"])
def test_default_amp_picks_float16_only_for_activations_in_range(name, shipped, monkeypatch):
    # (a) on a GPU without bfloat16 the bundle's own amp_dtype expression decides; float16 only when in range
    bundle = BUNDLES[name]
    for bf16 in (True, False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, bf16=bf16, **k: bf16)
        for config in ("train.json", "inference.json"):
            parser = ConfigParser()
            parser.read_config(str(bundle / "configs" / config))
            parser["device"] = "$torch.device('cuda:0')"
            dtype, amp = parser.get_parsed_content("amp_dtype"), parser.get_parsed_content("amp")
            safe = bool(parser.get_parsed_content("fp16_safe"))
            assert dtype == amp_dtype("cuda", safe, bf16_supported=bf16) and amp == (dtype is not None)
            if bf16:
                assert dtype == torch.bfloat16
            if name == "ct":  # (b) the CT bundle never picks float16 unless its network is declared fp16-safe
                assert dtype != torch.float16 or safe, (config, dtype)
    monkeypatch.undo()
    if amp_dtype("cuda", safe, bf16_supported=False) == torch.float16:
        net, x, _ = shipped(name)
        assert_fp16_range(net, x)


#: The fp16_safe flag each bundle's shipped weights must carry.
#: us: the frame-scale weights (256 px, unnormalised sparse branch) reach 1.6e5 in the deepest SAL and the first up
#: convolution: beyond float16 (float16 autocast would overflow to inf).
#: ct: retrained with the normalised sparse branch (sparse_norm "sum"; the earlier unnormalised weights reached 1.3e5);
#: the 0.4.0 weights stay near 120 on a patch of the real GE series.
#: fetal: the plain ResUNet weights (0.3.0, no sparse branch) stay below 100 on real HC18 frames.
FP16_SAFE = {"us": False, "ct": True, "fetal": True}


@pytest.mark.parametrize("name", sorted(FP16_SAFE))
def test_fp16_flag_matches_the_shipped_weights(name, shipped):
    net, x, safe = shipped(name)
    assert safe is FP16_SAFE[name], f"{name}: fp16_safe is {safe}, expected {FP16_SAFE[name]}"
    with torch.no_grad():
        top = max(activation_range(net, x).values())
    assert safe == (top <= 65504.0 / MARGIN), f"fp16_safe is {safe} but the largest activation is {top:.4g}"
    if safe:
        assert_fp16_range(net, x)
        with torch.no_grad():
            ref = net(x)
            with torch.autocast("cpu", dtype=torch.float16):
                half = net(x).float()
        assert torch.isfinite(half).all()
        assert (half.argmax(1) == ref.argmax(1)).float().mean() > 0.99
    else:
        assert amp_dtype("cuda", safe, bf16_supported=False) is None  # an older GPU runs float32, never float16
        assert amp_dtype("cuda", safe, bf16_supported=True) == torch.bfloat16  # bfloat16 has float32's range


@pytest.mark.parametrize("bundle", [US_BUNDLE, CT_BUNDLE], ids=["us", "ct"])
@pytest.mark.parametrize("typed, expected", [("false", False), ("False", False), ("0", False), ("true", True)])
def test_amp_typed_on_the_command_line_reaches_the_engines_as_a_bool(bundle, typed, expected):
    # `--amp false` arrives as the string "false", which MONAI's engines would take as true
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "train.json"))
    parser["amp"] = typed
    for engine in ("train#trainer", "validate#evaluator"):
        assert parser.get_parsed_content(f"{engine}#amp") is expected
