"""Exactness tests of the sparse attention layer (SAL) and its windows."""

from __future__ import annotations

import pytest
import torch

from cranialseg.networks.blocks import SparseAttentionLayer, window_padding, window_partition, window_reverse


@pytest.mark.parametrize(
    "spatial, window",
    [((16, 16), [8, 8]), ((8, 24), [4, 8]), ((4, 6, 10), [2, 3, 5]), ((12,), [4])],
)
def test_window_partition_roundtrip_is_identity(spatial, window):
    x = torch.arange(2 * 3 * int(torch.tensor(spatial).prod())).float().reshape(2, 3, *spatial)
    windows = window_partition(x, window)
    n_windows = int(torch.tensor([s // w for s, w in zip(spatial, window)]).prod())
    assert windows.shape == (2 * n_windows, int(torch.tensor(window).prod()), 3)
    # the first window holds exactly the first block of the first image, channel-last
    first = x[(0, slice(None)) + tuple(slice(0, w) for w in window)].reshape(3, -1).T
    assert torch.equal(windows[0], first)
    assert torch.equal(window_reverse(windows, window, list(spatial), 2), x)


@pytest.mark.parametrize("spatial, window, expected", [([20, 13], [8, 8], [4, 3]), ([16, 8], [8, 8], [0, 0])])
def test_window_padding(spatial, window, expected):
    assert window_padding(spatial, window) == expected


@pytest.mark.parametrize("spatial", [(16, 16), (20, 13), (5, 7), (9, 10, 3)])
def test_sal_keeps_shape_for_sizes_that_are_and_are_not_window_multiples(spatial):
    sal = SparseAttentionLayer(len(spatial), 16, num_heads=4, window_size=8)
    x = torch.rand(2, 16, *spatial)
    assert sal(x).shape == x.shape


def _logits(seed: int = 0, shape=(3, 2, 10, 10)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g)


def test_topk_with_all_keys_equals_dense_softmax():
    sal = SparseAttentionLayer(2, 8, num_heads=2, sparse_mode="topk", topk_ratios=(1.0,))
    s = _logits()
    torch.testing.assert_close(sal.sparse_branch(s), torch.softmax(s, dim=-1), atol=1e-5, rtol=0)


def test_topk_with_one_key_attends_only_to_the_argmax():
    sal = SparseAttentionLayer(2, 8, num_heads=2, sparse_mode="topk", topk_ratios=(0.01,))
    s = _logits(1)
    expected = torch.nn.functional.one_hot(s.argmax(-1), s.shape[-1]).float()
    torch.testing.assert_close(sal.sparse_branch(s), expected, atol=1e-6, rtol=0)


def test_topk_keeps_ceil_ratio_of_keys():
    sal = SparseAttentionLayer(2, 8, num_heads=2, sparse_mode="topk", topk_ratios=(0.25,))
    weights = sal.sparse_branch(_logits(2))  # 10 keys -> ceil(2.5) = 3 kept per query
    assert torch.equal((weights > 0).sum(-1), torch.full(weights.shape[:-1], 3))


def test_relu2_gives_exact_zero_to_non_positive_logits():
    sal = SparseAttentionLayer(2, 8, num_heads=2, sparse_mode="relu2")
    s = _logits(3)
    w = sal.sparse_branch(s)
    assert torch.all(w[s <= 0] == 0)
    torch.testing.assert_close(w[s > 0], s[s > 0] ** 2)


def test_fusion_weights_start_at_half_and_sum_to_one():
    sal = SparseAttentionLayer(2, 8, num_heads=2)
    torch.testing.assert_close(sal.fusion_weights(), torch.tensor([0.5, 0.5]))
    with torch.no_grad():
        sal.fusion_logits.copy_(torch.tensor([1.3, -0.4]))
    assert sal.fusion_weights().sum().item() == pytest.approx(1.0, abs=1e-6)


def test_sal_forward_with_topk_all_keys_equals_dense_layer():
    """w1 * softmax + w2 * topk(all) = softmax, so the whole layer equals the dense ablation with shared weights."""
    torch.manual_seed(0)
    sal = SparseAttentionLayer(2, 16, num_heads=4, window_size=4, sparse_mode="topk", topk_ratios=(1.0,))
    dense = SparseAttentionLayer(2, 16, num_heads=4, window_size=4, kind="dense")
    dense.load_state_dict(sal.state_dict(), strict=False)
    x = torch.rand(2, 16, 9, 6)  # not a window multiple: padding and key masking are exercised
    torch.testing.assert_close(sal(x), dense(x), atol=1e-5, rtol=0)


def test_padded_keys_get_no_attention():
    """Zero-padding must not change the result: a map padded by the layer equals the same map cut from a bigger
    one only where the windows coincide, so compare against attention computed on an exact-window map whose
    extra tokens are masked by construction (one window that is the whole map)."""
    torch.manual_seed(0)
    sal = SparseAttentionLayer(1, 8, num_heads=2, window_size=8)
    x = torch.rand(1, 8, 5)  # window shrinks to 5: one global window, no padding
    y_global = sal(x)
    sal_big = SparseAttentionLayer(1, 8, num_heads=2, window_size=8)
    sal_big.load_state_dict(sal.state_dict())
    x_long = torch.cat([x, torch.rand(1, 8, 3)], dim=2)  # 8 = one window; the first 5 see the 3 extra tokens
    assert not torch.allclose(sal_big(x_long)[..., :5], y_global)
    # with 13 tokens and window 8 the second window holds 5 real tokens + 3 padded ones, which must be ignored
    x13 = torch.cat([torch.rand(1, 8, 8), x], dim=2)
    sal_shift = SparseAttentionLayer(1, 8, num_heads=2, window_size=8)
    sal_shift.load_state_dict(sal.state_dict())
    torch.testing.assert_close(sal_shift(x13)[..., 8:], _attend_window(sal, x), atol=1e-5, rtol=0)


def _attend_window(sal: SparseAttentionLayer, x: torch.Tensor) -> torch.Tensor:
    """Attention of ``x`` alone, but with the relative position bias of an 8-window (as seen inside 13 tokens)."""
    b, c, n = x.shape
    tokens = sal.norm(x.permute(0, 2, 1))
    qkv = sal.qkv(tokens).reshape(b, n, 3, sal.num_heads, c // sal.num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    logits = (q * sal.scale) @ k.transpose(-2, -1) + sal.position_bias([8])[:, :n, :n].unsqueeze(0)
    out = (sal.attention_weights(logits) @ v).transpose(1, 2).reshape(b, n, c)
    return x + sal.proj(out).permute(0, 2, 1)


def test_gradients_reach_qkv_and_fusion_weights():
    sal = SparseAttentionLayer(2, 16, num_heads=4, window_size=4)
    sal(torch.rand(1, 16, 8, 8)).square().mean().backward()
    for name in ("qkv.weight", "qkv.bias", "fusion_logits", "relative_position_bias", "proj.weight"):
        grad = dict(sal.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_topk_ratio_mixing_weights_are_learned():
    sal = SparseAttentionLayer(2, 16, num_heads=4, window_size=4, sparse_mode="topk", topk_ratios=(0.5, 0.75))
    assert sal.topk_logits.requires_grad and sal.topk_logits.shape == (2,)
    sal(torch.rand(1, 16, 8, 8)).square().mean().backward()
    assert sal.topk_logits.grad is not None and sal.topk_logits.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_heads": 3}, "divisible by num_heads"),
        ({"topk_ratios": (0.0,)}, r"\(0, 1\]"),
        ({"topk_ratios": (1.5,)}, r"\(0, 1\]"),
        ({"sparse_mode": "top_k"}, "top"),
        ({"sparse_norm": "l1"}, "sum"),
        ({"sparse_mode": "topk", "sparse_norm": "sum"}, "applies to sparse_mode='relu2' only"),
        ({"window_size": (8, 8, 8)}, "one entry per spatial axis"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SparseAttentionLayer(2, 16, **kwargs)


def _large_logit_layer(sparse_norm: str) -> SparseAttentionLayer:
    """A 3D layer whose query/key projections are scaled up so the logits reach tens of units (as in trained
    networks, where the CT network's level-2 attention output reached 66,120 under the unnormalised branch)."""
    torch.manual_seed(0)
    sal = SparseAttentionLayer(3, 16, num_heads=2, window_size=8, sparse_norm=sparse_norm)
    with torch.no_grad():
        sal.qkv.weight[:32].mul_(12.0)  # queries and keys
    return sal


def test_relu2_sum_norm_weights_are_convex_and_match_the_definition():
    sal = SparseAttentionLayer(2, 8, num_heads=2, sparse_norm="sum")
    s = _logits(3) * 40.0
    s[..., 0, :] = -1.0  # a query whose logits are all negative: zero weights, not NaN
    w = sal.sparse_branch(s)
    r = torch.relu(s) ** 2
    expected = r / r.sum(-1, keepdim=True).clamp_min(1e-30)
    torch.testing.assert_close(w, expected)
    assert torch.all(w[..., 0, :] == 0)
    sums = w[..., 1:, :].sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))


def test_relu2_sum_norm_keeps_the_branch_within_the_range_of_v_and_the_unnormalised_one_does_not():
    x = torch.rand(1, 16, 8, 8, 8)
    outputs = {}
    for norm in ("none", "sum"):
        sal = _large_logit_layer(norm)
        c = 16
        tokens = sal.norm(x.flatten(2).transpose(1, 2))  # one 8x8x8 window: 512 tokens
        qkv = sal.qkv(tokens).reshape(1, 512, 3, 2, c // 2).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = (q * sal.scale) @ k.transpose(-2, -1) + sal.position_bias([8, 8, 8]).unsqueeze(0)
        branch = sal.sparse_branch(logits) @ v
        outputs[norm] = (branch.abs().max().item(), v.abs().max().item())
    bound = outputs["sum"][1]
    assert outputs["sum"][0] <= bound * (1 + 1e-5)
    assert outputs["none"][0] > 100 * outputs["none"][1]  # the authors' form grows with the logits and window


@pytest.mark.parametrize("norm, finite", [("sum", True), ("none", False)])
def test_float16_autocast_stays_finite_only_with_the_normalised_branch(norm, finite):
    sal = _large_logit_layer(norm)
    x = torch.rand(1, 16, 16, 16, 8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.float16):
        y = sal(x)
    assert bool(torch.isfinite(y).all()) is finite
    if finite:
        reference = sal(x)
        assert (y.float() - reference).abs().max() < 0.05 * reference.abs().max()


def test_relu2_sum_norm_gradient_equals_the_plain_formula():
    """The row maximum is detached in the scaled computation; the value is scale-invariant, so the gradient must
    equal that of ReLU(S)^2 / sum ReLU(S)^2 differentiated directly."""
    sal = SparseAttentionLayer(2, 8, num_heads=2, sparse_norm="sum")
    s = (_logits(4) * 3.0).requires_grad_(True)
    weights = torch.rand(s.shape)
    (sal.sparse_branch(s) * weights).sum().backward()
    ours = s.grad.clone()
    s.grad = None
    r = torch.relu(s) ** 2
    (r / r.sum(-1, keepdim=True) * weights).sum().backward()
    torch.testing.assert_close(ours, s.grad)
