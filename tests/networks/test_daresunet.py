"""DAResUNet: shape tables, variants, parameter counts, bad settings, TorchScript, training behaviour."""

from __future__ import annotations

import pytest
import torch
from monai.networks.blocks import Convolution

from cranialseg.networks import VARIANTS, DAResUNet
from cranialseg.networks.blocks import CBAM, SparseAttentionLayer, space_to_depth

SMALL = {"channels": (8, 16, 32), "strides": (2, 2), "num_heads": 4}

SHAPE_CASES = [
    # (spatial_dims, in, out, batch, spatial, kwargs)
    (2, 1, 2, 1, (32, 48), {}),
    (2, 3, 4, 3, (16, 24), SMALL),
    (3, 1, 2, 1, (16, 16, 8), {**SMALL, "strides": ((2, 2, 1), (2, 2, 2))}),
    (3, 3, 6, 3, (16, 24, 4), {**SMALL, "strides": ((2, 2, 1), (2, 2, 1))}),
    (3, 1, 3, 1, (8, 8, 8), {**SMALL, "sparse_mode": "topk", "topk_ratios": (0.5, 0.8)}),
    (2, 1, 2, 1, (16, 16), {**SMALL, "variant": "resunet"}),
    (2, 1, 2, 1, (16, 16), {**SMALL, "variant": "csr_unet", "attention_placement": "residual"}),
    (3, 1, 2, 1, (8, 8, 8), {**SMALL, "variant": "attention_gated"}),
    (2, 1, 2, 3, (16, 16), {**SMALL, "self_attention": "dense", "num_res_units": 2, "dropout": 0.1}),
    (2, 1, 3, 2, (32, 16), {**SMALL, "input_stride": 2, "num_image_classes": 2}),
    (3, 2, 2, 1, (16, 16, 8), {**SMALL, "input_stride": (2, 2, 1), "deep_supervision": True}),
]


@pytest.mark.parametrize("spatial_dims, cin, cout, batch, spatial, kwargs", SHAPE_CASES)
def test_output_shape(spatial_dims, cin, cout, batch, spatial, kwargs):
    net = DAResUNet(spatial_dims, cin, cout, **kwargs).eval()
    with torch.no_grad():
        y = net(torch.rand(batch, cin, *spatial))
    assert y.shape == (batch, cout) + spatial


def test_heads_shapes_and_order():
    net = DAResUNet(3, 1, 3, **SMALL, deep_supervision=True, num_image_classes=5).eval()
    x = torch.rand(2, 1, 16, 16, 8)
    with torch.no_grad():
        heads = net.forward_with_heads(x)
        seg = net(x)
    assert set(heads) == {"seg", "image", "deep_supervision"}
    assert heads["image"].shape == (2, 5)
    assert heads["deep_supervision"].shape == (2, 2, 3, 16, 16, 8)  # main + one lower level
    torch.testing.assert_close(heads["deep_supervision"][:, 0], seg)
    torch.testing.assert_close(heads["seg"], seg)
    plain = DAResUNet(2, 1, 2, **SMALL).forward_with_heads(torch.rand(1, 1, 16, 16))
    assert set(plain) == {"seg"}


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    "spatial_dims, expected",
    [
        (2, {"dual_attention": 2417569, "resunet": 2033522, "csr_unet": 2056399, "attention_gated": 2056134}),
        (3, {"dual_attention": 6191193, "resunet": 5737618, "csr_unet": 5763435, "attention_gated": 5760230}),
    ],
)
def test_pinned_parameter_counts(spatial_dims, expected):
    counts = {v: _count(DAResUNet(spatial_dims, 1, 2, variant=v)) for v in VARIANTS}
    assert counts == expected


@pytest.mark.parametrize("variant", ["dual_attention", "csr_unet", "attention_gated"])
def test_variants_differ_from_resunet_only_by_attention_parameters(variant):
    base = DAResUNet(2, 1, 2, variant="resunet")
    net = DAResUNet(2, 1, 2, variant=variant)
    attention_params = sum(_count(m) for m in net.refine) + sum(_count(lv.gate) for lv in net.decoder)
    assert _count(net) - attention_params == _count(base)
    # and the non-attention weights have identical names and shapes
    base_shapes = {k: v.shape for k, v in base.state_dict().items()}
    shapes = {k: v.shape for k, v in net.state_dict().items() if not k.startswith("refine") and ".gate." not in k}
    assert shapes == base_shapes


def test_default_places_cbam_then_sal_on_every_level():
    net = DAResUNet(2, 1, 2)
    assert len(net.refine) == 5
    for level in net.refine:
        assert len(level) == 2 and isinstance(level[0], CBAM)
        assert isinstance(level[-1], SparseAttentionLayer)
    assert [lvl[-1].window for lvl in net.refine] == [[8, 8]] * 5
    assert [lvl[-1].num_heads for lvl in net.refine] == [8] * 5


def test_attention_is_registered_trained_and_deterministic():
    """The authors' code builds CBAM/SAL inside forward; here they are registered: same output twice, grads flow."""
    net = DAResUNet(2, 1, 2, **SMALL)
    x = torch.rand(2, 1, 16, 16)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x), atol=0, rtol=0)
    net.train()
    net(x).square().mean().backward()
    for name, p in net.named_parameters():
        if name.startswith("refine"):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    names = [n for n, _ in net.named_parameters()]
    assert any("fusion_logits" in n for n in names) and any("channel.mlp" in n for n in names)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"channels": (8, 16, 32), "strides": (2,)}, "strides needs len"),
        ({"channels": (8,), "strides": ()}, "at least two levels"),
        ({"kernel_size": 4}, "odd"),
        ({"kernel_size": (3, 3, 3)}, "one entry per spatial axis"),
        ({"strides": ((2, 2, 2), 2, 2, 2)}, r"strides\[0\]"),
        ({"topk_ratios": (1.2,), "sparse_mode": "topk"}, r"\(0, 1\]"),
        ({"topk_ratios": (0.0,), "sparse_mode": "topk"}, r"\(0, 1\]"),
        ({"attention": "cbma"}, "cbam"),
        ({"variant": "resunett"}, "resunet"),
        ({"sal_levels": (5,)}, "sal_levels"),
        ({"num_heads": 3}, "divisible by num_heads"),
        ({"num_res_units": 0}, "num_res_units"),
        ({"input_stride": 0}, "input_stride"),
        ({"input_stride": (2, 2, 2)}, "input_stride must have one entry per spatial axis"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DAResUNet(2, 1, 2, **kwargs)


def test_input_not_divisible_names_axis_and_nearest_sizes():
    net = DAResUNet(3, 1, 2, **{**SMALL, "strides": ((2, 2, 1), (2, 2, 2))})
    with pytest.raises(ValueError, match=r"axis 2 \(size 5\); nearest valid sizes: 4 or 6"):
        net(torch.rand(1, 1, 16, 16, 5))


def assert_torchscript_roundtrip(net: torch.nn.Module, x: torch.Tensor, tmp_path) -> None:
    net = net.eval()
    path = tmp_path / "net.ts"
    torch.jit.save(torch.jit.script(net), str(path))
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), atol=1e-5, rtol=1e-4)
        a, b = loaded.forward_with_heads(x), net.forward_with_heads(x)
    assert set(a) == set(b)
    for k in b:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "spatial_dims, kwargs, shape",
    [
        (2, {}, (1, 1, 32, 48)),
        (3, {**SMALL, "deep_supervision": True, "num_image_classes": 3, "sparse_mode": "topk"}, (1, 1, 16, 8, 12)),
        (2, {**SMALL, "variant": "attention_gated"}, (2, 1, 24, 16)),
        (2, {**SMALL, "input_stride": 2, "num_image_classes": 2}, (1, 1, 32, 16)),
    ],
)
def test_torchscript_roundtrip(spatial_dims, kwargs, shape, tmp_path):
    assert_torchscript_roundtrip(DAResUNet(spatial_dims, 1, 2, **kwargs), torch.rand(shape), tmp_path)


def _dice(pred: torch.Tensor, target: torch.Tensor) -> float:
    inter = (pred * target).sum()
    return float(2 * inter / (pred.sum() + target.sum()).clamp_min(1))


def test_default_2d_network_learns_a_toy_mask():
    """Learnability: the default network fits a noisy two-blob image within a few dozen steps (Dice > 0.9)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    mask = (((yy - 24) ** 2 + (xx - 20) ** 2) < 100) | (((yy - 40) ** 2 + (xx - 44) ** 2) < 64)
    image = mask.float() * 0.6 + 0.4 * torch.rand(64, 64, generator=g)
    x, y = image[None, None], mask.long()[None]
    net = DAResUNet(2, 1, 2)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    before = _dice(net(x).argmax(1).float(), y.float())
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        after = _dice(net(x).argmax(1).float(), y.float())
    assert after > 0.9, (before, after)


def test_3d_default_puts_sal_from_quarter_resolution_down():
    net = DAResUNet(3, 1, 2)
    has_sal = [
        isinstance(level, torch.nn.Sequential) and isinstance(level[-1], SparseAttentionLayer) for level in net.refine
    ]
    assert has_sal == [False, False, True, True, True]
    assert all(isinstance(level[0] if isinstance(level, torch.nn.Sequential) else level, CBAM) for level in net.refine)
    forced = DAResUNet(3, 1, 2, channels=(8, 16), strides=(2,), num_heads=4, sal_levels=range(2))
    assert all(isinstance(level[-1], SparseAttentionLayer) for level in forced.refine)


class _Off(torch.nn.Module):
    """A skip refinement that has learnt to switch its skip off."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def test_image_head_reads_the_encoder_before_the_skip_refinement():
    net = DAResUNet(2, 1, 2, **SMALL, num_image_classes=2).eval()
    net.refine[-1] = _Off()  # deepest skip switched off: the head must still see the input
    with torch.no_grad():
        a = net.forward_with_heads(torch.rand(1, 1, 32, 32))["image"]
        b = net.forward_with_heads(torch.rand(1, 1, 32, 32) * 4)["image"]
    assert (a - b).abs().max() > 1e-3


def test_image_head_learns_lesion_presence():
    """Toy presence task: 16 images, half with a bright blob; the head separates them within 60 steps."""
    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.rand(16, 1, 32, 32, generator=g)
    present = torch.arange(16) % 2 == 0
    for i in torch.nonzero(present).flatten().tolist():
        r, c = torch.randint(4, 24, (2,), generator=g).tolist()
        x[i, 0, r : r + 5, c : c + 5] += 0.7
    torch.manual_seed(0)
    net = DAResUNet(2, 1, 2, **SMALL, self_attention="none", num_image_classes=1)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    target = present.float()[:, None]
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net.forward_with_heads(x)["image"], target)
        loss.backward()
        opt.step()
    with torch.no_grad():
        predicted = net.eval().forward_with_heads(x)["image"][:, 0] > 0
    assert bool((predicted == present).all()), loss.item()


def test_num_heads_per_level():
    net = DAResUNet(2, 1, 2, channels=(8, 16, 32), strides=(2, 2), num_heads=(1, 2, 4))
    sal = [level[-1] for level in net.refine]
    assert [layer.num_heads for layer in sal] == [1, 2, 4]
    same = DAResUNet(2, 1, 2, channels=(8, 16, 32), strides=(2, 2), num_heads=4)
    assert [level[-1].num_heads for level in same.refine] == [4, 4, 4]
    # only the relative position bias tables (one column per head) differ: 225 entries per head, 8x8 windows
    assert _count(same) - _count(net) == 225 * ((4 - 1) + (4 - 2))
    assert net(torch.rand(1, 1, 16, 16)).shape == (1, 2, 16, 16)
    with pytest.raises(ValueError, match="one positive int per level"):
        DAResUNet(2, 1, 2, channels=(8, 16, 32), strides=(2, 2), num_heads=(1, 2))


def test_input_stride_runs_the_first_level_coarser_and_restores_the_input_size():
    full = DAResUNet(2, 1, 2, **SMALL)
    lean = DAResUNet(2, 1, 2, **SMALL, input_stride=2)
    assert full.total_stride == [4, 4] and lean.total_stride == [8, 8]
    # the only new parameters: the transposed 2x2 convolution back to full resolution (8 -> 8 channels, bias,
    # affine instance norm); the encoder's first block just gets a strided first convolution and shortcut
    assert _count(lean) - _count(full) == 8 * 8 * 4 + 8 + 2 * 8
    assert isinstance(full.restore, torch.nn.Identity)
    sizes = []
    lean.encoder[0].register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[2:])))
    out = lean(torch.rand(1, 1, 32, 24))
    assert sizes == [(16, 12)] and out.shape == (1, 2, 32, 24)
    with pytest.raises(
        ValueError, match=r"total stride \[8, 8\] on spatial axis 1 \(size 20\); nearest valid sizes: 16 or 24"
    ):
        lean(torch.rand(1, 1, 32, 20))


FP16_MAX = 65504.0


def _float16_activation_peak(net: torch.nn.Module, x: torch.Tensor) -> float:
    """Largest |activation| of any module output under float16 autocast on CPU (inf or nan give inf)."""
    peaks = []

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.is_floating_point():
            finite = bool(torch.isfinite(output).all())
            peaks.append(output.detach().abs().max().item() if finite else float("inf"))

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.float16):
            net(x)
    finally:
        for h in handles:
            h.remove()
    return max(peaks)


def _large_logit_3d_network(sparse_norm: str, preset: str = "faithful") -> DAResUNet:
    """A random-init 3D network (CT-like strides, SAL at 1/4 resolution and below) whose SAL query/key
    projections are scaled so that the attention logits reach tens of units, as trained weights do."""
    torch.manual_seed(0)
    net = DAResUNet(
        3, 3, 6, channels=(8, 16, 32, 64), strides=((2, 2, 1), (2, 2, 2), (2, 2, 2)), num_heads=2,
        sparse_norm=sparse_norm, num_image_classes=4, preset=preset,
    ).eval()  # fmt: skip
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, SparseAttentionLayer):
                c = module.proj.in_features
                module.qkv.weight[: 2 * c].mul_(15.0)
    return net


@pytest.mark.parametrize(
    "sparse_norm, preset, fits", [("sum", "faithful", True), ("none", "faithful", False), ("sum", "efficient", True)]
)
def test_float16_autocast_activations_fit_half_precision_only_with_the_normalised_sparse_branch(
    sparse_norm, preset, fits
):
    """Issue 19: the unnormalised ReLU(S)^2 branch overflows float16 under AMP; the normalised one keeps every
    activation finite and well under float16's maximum (margin 4x), in both presets."""
    net = _large_logit_3d_network(sparse_norm, preset)
    x = torch.randn(1, 3, 32, 32, 16) * 3.0  # level 2 (SAL) is one 8x8x8 window of 512 tokens
    peak = _float16_activation_peak(net, x)
    assert (peak < FP16_MAX / 4) is fits, peak
    if fits:
        with torch.no_grad():
            reference = net(x)
            with torch.autocast("cpu", dtype=torch.float16):
                half = net(x).float()
        assert torch.isfinite(half).all() and torch.isfinite(reference).all()
        # the logits here are extreme on purpose (one key dominates), so half precision may pick another key
        # near a tie: compare the typical error, not the worst voxel
        assert (half - reference).abs().mean() < 0.1 * reference.abs().mean()


def test_sparse_norm_adds_no_parameters_and_reaches_every_sal():
    base = DAResUNet(2, 1, 2, **SMALL)
    normed = DAResUNet(2, 1, 2, **SMALL, sparse_norm="sum")
    assert _count(base) == _count(normed)
    assert [lvl[-1].sparse_norm for lvl in normed.refine] == ["sum"] * 3
    assert [lvl[-1].sparse_norm for lvl in base.refine] == ["none"] * 3


# ---- the efficient preset (issue 15) -------------------------------------------------------------------------

US_NET = {"channels": (16, 32, 64, 128), "strides": (2, 2, 2), "sal_levels": (2, 3), "num_heads": 4}
CT_NET = {
    "channels": (16, 32, 64, 128),
    "strides": ((2, 2, 1), (2, 2, 2), (2, 2, 2)),
    "sal_levels": (2, 3),
    "num_heads": 4,
}

EFFICIENT_US_PARAMS = 513_673
EFFICIENT_CT_PARAMS = 1_337_064

EFFICIENT_SHAPE_CASES = [
    # (spatial_dims, in, out, batch, spatial, kwargs)
    (2, 1, 3, 2, (64, 48), {**SMALL}),
    (2, 1, 3, 1, (32, 32), {**US_NET}),
    (3, 3, 6, 1, (32, 32, 8), {**CT_NET, "num_image_classes": 4}),
    (3, 1, 2, 2, (16, 16, 16), {**SMALL, "strides": (2, 2), "deep_supervision": True}),
    (2, 3, 4, 1, (32, 16), {**SMALL, "variant": "resunet", "full_res_channels": 2}),
]


@pytest.mark.parametrize("spatial_dims, cin, cout, batch, spatial, kwargs", EFFICIENT_SHAPE_CASES)
def test_efficient_output_shape(spatial_dims, cin, cout, batch, spatial, kwargs):
    net = DAResUNet(spatial_dims, cin, cout, preset="efficient", **kwargs).eval()
    with torch.no_grad():
        heads = net.forward_with_heads(torch.rand(batch, cin, *spatial))
    assert heads["seg"].shape == (batch, cout) + spatial
    if kwargs.get("num_image_classes"):
        assert heads["image"].shape == (batch, kwargs["num_image_classes"])
    if kwargs.get("deep_supervision"):
        assert heads["deep_supervision"].shape == (batch, 2, cout) + spatial


def test_efficient_preset_settings():
    """Levels at MONAI UNet's resolutions for the same strides (the first strided by strides[0], the deepest at the
    resolution above it; same total stride), one convolution per decoder level, the image fused on the first
    level's grid, the sparse branch normalised; explicit arguments override the preset; faithful unchanged."""
    net = DAResUNet(3, 3, 6, preset="efficient", **CT_NET).eval()
    assert net.total_stride == [8, 8, 4]
    sizes = []
    for stage in net.encoder:
        stage.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[2:])))
    assert net(torch.rand(1, 3, 32, 32, 8)).shape == (1, 6, 32, 32, 8)
    # MONAI UNet(strides=[[2, 2, 1], [2, 2, 2], [2, 2, 2]]): 16 ch at 16x16x8, 32 at 8x8x4, 64 and 128 at 4x4x2
    assert sizes == [(16, 16, 8), (8, 8, 4), (4, 4, 2), (4, 4, 2)]
    assert all(isinstance(level.block, Convolution) for level in net.decoder)
    assert net.decoder[-1].block.conv.in_channels == 2 * 16 + 3 * 4  # up + skip + image as 2x2x1 patches
    assert net.restore.conv.out_channels == 8 and net.head.in_channels == 8
    assert [lvl[-1].sparse_norm for lvl in net.refine if isinstance(lvl[-1], SparseAttentionLayer)] == ["sum"] * 2
    faithful = DAResUNet(3, 3, 6, **CT_NET)
    assert faithful.total_stride == [8, 8, 4] and tuple(faithful.encoder[0][0].conv1.conv.stride) == (1, 1, 1)
    custom = DAResUNet(
        2, 1, 2, preset="efficient", **SMALL, stride_layout="levels", decoder_block="residual", full_res_channels=0,
        sparse_norm="none",
    )  # fmt: skip
    reference = DAResUNet(2, 1, 2, **SMALL)
    assert _count(custom) == _count(reference)
    assert custom.state_dict().keys() == reference.state_dict().keys()


def test_space_to_depth_is_a_lossless_rearrangement():
    x = torch.rand(2, 3, 8, 6, 4)
    y = space_to_depth(x, [2, 3, 1])
    assert y.shape == (2, 3 * 6, 4, 2, 4)
    torch.testing.assert_close(y[:, :6, 1, 1, 2].reshape(2, 2, 3), x[:, 0, 2:4, 3:6, 2])  # one patch, raster order
    assert torch.equal(torch.sort(y.flatten())[0], torch.sort(x.flatten())[0])


@pytest.mark.parametrize(
    "spatial_dims, kwargs, expected",
    [
        (2, US_NET, EFFICIENT_US_PARAMS),  # US bundle network (1 in, 3 out); faithful: 596,969
        (3, {**CT_NET, "num_image_classes": 4}, EFFICIENT_CT_PARAMS),  # CT bundle (3 in, 6 out); faithful: 1,543,264
    ],
)
def test_efficient_pinned_parameter_counts(spatial_dims, kwargs, expected):
    cin, cout = (1, 3) if spatial_dims == 2 else (3, 6)
    assert _count(DAResUNet(spatial_dims, cin, cout, preset="efficient", **kwargs)) == expected


def test_efficient_parameters_differ_from_faithful_only_where_documented():
    """Same encoder and attention; the decoder blocks become single convolutions (the deepest up-sampling a 1x1
    transposed convolution, stride 1), the top one reads 4 more channels (the image as 2x2 patches), and a
    transposed 2x2 convolution 16 -> 8 with affine instance norm feeds an 8-channel head."""
    full = DAResUNet(2, 1, 3, **US_NET)
    fast = DAResUNet(2, 1, 3, preset="efficient", **US_NET)
    enc = lambda n: sum(_count(m) for m in list(n.encoder) + list(n.refine))  # noqa: E731
    assert enc(fast) == enc(full)

    def res_block(cin, c):
        return cin * c * 9 + c + 2 * c + c * c * 9 + c + 2 * c + cin * c + c + 2 * c

    def conv_block(cin, c):
        return cin * c * 9 + c + 2 * c

    def up(cin, c, k):
        return cin * c * k + c + 2 * c

    dec_full = sum(up(2 * c, c, 4) + res_block(2 * c, c) for c in (64, 32, 16))
    dec_fast = up(128, 64, 1) + conv_block(128, 64) + up(64, 32, 4) + conv_block(64, 32)
    dec_fast += up(32, 16, 4) + conv_block(32 + 4, 16)
    assert sum(_count(lv) for lv in full.decoder) == dec_full
    assert sum(_count(lv) for lv in fast.decoder) == dec_fast
    assert _count(fast.restore) == up(16, 8, 4) and _count(fast.head) == 8 * 3 + 3


@pytest.mark.parametrize(
    "spatial_dims, kwargs, shape",
    [
        (2, {**US_NET}, (1, 1, 32, 48)),
        (3, {**CT_NET, "num_image_classes": 4, "deep_supervision": True}, (1, 1, 32, 16, 8)),
    ],
)
def test_efficient_torchscript_roundtrip(spatial_dims, kwargs, shape, tmp_path):
    net = DAResUNet(spatial_dims, 1, 2, preset="efficient", **kwargs)
    assert_torchscript_roundtrip(net, torch.rand(shape), tmp_path)


def test_efficient_preset_bad_settings_raise():
    with pytest.raises(ValueError, match="faithful"):
        DAResUNet(2, 1, 2, preset="eficient")
    with pytest.raises(ValueError, match="full_res_channels must be >= 0"):
        DAResUNet(2, 1, 2, preset="efficient", full_res_channels=-1)
    with pytest.raises(ValueError, match="cannot be combined with stride_layout='unet'"):
        DAResUNet(2, 1, 2, preset="efficient", input_stride=2)
    with pytest.raises(ValueError, match="residual"):
        DAResUNet(2, 1, 2, decoder_block="resid")
    with pytest.raises(ValueError, match="unet"):
        DAResUNet(2, 1, 2, stride_layout="unett")


def test_efficient_2d_network_learns_a_toy_mask():
    """Learnability at the preset: the strided network with its full-resolution path fits thin structures."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    mask = (((yy - 24) ** 2 + (xx - 20) ** 2) < 100) | (((yy - 40) ** 2 + (xx - 44) ** 2) < 64)
    image = mask.float() * 0.6 + 0.4 * torch.rand(64, 64, generator=g)
    x, y = image[None, None], mask.long()[None]
    torch.manual_seed(0)
    net = DAResUNet(2, 1, 2, preset="efficient", **US_NET)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        after = _dice(net(x).argmax(1).float(), y.float())
    assert after > 0.9, after
