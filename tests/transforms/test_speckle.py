"""Tests of the random speckle and acoustic-shadow augmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from cranialseg.transforms import RandAcousticShadow, RandAcousticShadowd, RandSpeckleNoise, RandSpeckleNoised


def expected_speckle(seed: int, shape, prob, looks, strength, distribution="gamma") -> np.ndarray | None:
    """Replays the documented draw order of RandSpeckleNoise with a fresh RandomState."""
    r = np.random.RandomState(seed)
    if not r.rand() < prob:
        return None
    lk = r.uniform(*looks)
    s = r.uniform(*strength)
    n = r.gamma(lk, 1.0 / lk, size=shape) if distribution == "gamma" else r.rayleigh(np.sqrt(2 / np.pi), size=shape)
    return (1.0 + s * (n - 1.0)).astype(np.float32)


@pytest.mark.parametrize("spatial", [(6, 5), (4, 3, 5)])
@pytest.mark.parametrize("distribution", ["gamma", "rayleigh"])
def test_speckle_exact_field(spatial, distribution):
    img = np.arange(np.prod(spatial), dtype=np.float32).reshape((1, *spatial)) + 1.0
    t = RandSpeckleNoise(prob=1.0, distribution=distribution, looks=(2.0, 3.0), strength=(0.5, 0.8))
    t.set_random_state(7)
    out = t(img)
    field = expected_speckle(7, spatial, 1.0, (2.0, 3.0), (0.5, 0.8), distribution)
    np.testing.assert_allclose(np.asarray(out)[0], img[0] * field, rtol=1e-6)


def test_speckle_mean_one_and_statistics():
    t = RandSpeckleNoise(prob=1.0, looks=(1.0, 1.0), strength=(1.0, 1.0))
    t.set_random_state(0)
    out = np.asarray(t(np.ones((1, 200, 200), dtype=np.float32)))
    # exponential intensity speckle (1 look): mean 1, std 1
    assert abs(out.mean() - 1.0) < 0.02 and abs(out.std() - 1.0) < 0.03
    grain = RandSpeckleNoise(prob=1.0, looks=(1.0, 1.0), strength=(1.0, 1.0), grain_sigma=2.0)
    grain.set_random_state(0)
    g = np.asarray(grain(np.ones((1, 200, 200), dtype=np.float32)))[0]
    # correlated grain: neighbouring pixels correlate, white speckle does not
    assert np.corrcoef(g[:-1].ravel(), g[1:].ravel())[0, 1] > 0.7
    assert abs(np.corrcoef(out[0, :-1].ravel(), out[0, 1:].ravel())[0, 1]) < 0.05


def test_speckle_prob_zero_identity_and_metatensor():
    img = MetaTensor(torch.rand(1, 5, 5), affine=torch.diag(torch.tensor([0.3, 0.3, 1.0, 1.0])))
    out = RandSpeckleNoise(prob=0.0)(img)
    assert isinstance(out, MetaTensor) and torch.equal(out.as_tensor(), img.as_tensor())
    out = RandSpeckleNoise(prob=1.0)(img)
    assert isinstance(out, MetaTensor) and torch.equal(out.affine, img.affine)
    assert not torch.equal(out.as_tensor(), img.as_tensor())


def test_speckled_same_field_for_all_keys():
    t = RandSpeckleNoised(keys=["a", "b"], prob=1.0, strength=(1.0, 1.0)).set_random_state(3)
    d = t({"a": np.ones((1, 8, 8)), "b": 2 * np.ones((1, 8, 8)), "label": np.ones((1, 8, 8))})
    np.testing.assert_allclose(np.asarray(d["b"]), 2 * np.asarray(d["a"]), rtol=1e-6)
    assert isinstance(d["label"], np.ndarray)
    field = expected_speckle(3, (8, 8), 1.0, (1.0, 4.0), (1.0, 1.0))
    # the wrapper draws `do` from its own state; the inner transform (seeded 3 too) replays the documented order
    np.testing.assert_allclose(np.asarray(d["a"])[0], field, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"distribution": "gauss"}, "gamma"),
        ({"looks": (4.0, 1.0)}, "looks"),
        ({"strength": (0.0, 2.0)}, "strength"),
        ({"grain_sigma": -1.0}, "grain_sigma"),
    ],
)
def test_speckle_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandSpeckleNoise(**kwargs)


@pytest.mark.parametrize("spatial", [(8, 8), (8, 8, 3)])
def test_shadow_exact_hard_band(spatial):
    t = RandAcousticShadow(
        prob=1.0, num_shadows=(1, 1), width=(0.25, 0.25), attenuation=(0.5, 0.5), start_depth=(0.5, 0.5), softness=0.0
    )
    t.set_random_state(1)
    out = np.asarray(t(np.ones((1, *spatial), dtype=np.float32)))[0]
    r = np.random.RandomState(1)
    r.rand(), r.randint(1, 2)
    centre = r.uniform(0.0, 1.0)
    u = (np.arange(8) + 0.5) / 8
    cols = np.abs(u - centre) < 0.125
    expected = np.ones(spatial, dtype=np.float32)
    expected[cols, 4:] = 0.5
    np.testing.assert_array_equal(out, expected)
    assert cols.sum() == 2


def test_shadow_soft_edges_monotone_and_depth_axis():
    t = RandAcousticShadow(
        prob=1.0, num_shadows=(2, 2), attenuation=(0.8, 0.8), softness=0.1, depth_axis=0, lateral_axis=1
    )
    t.set_random_state(0)
    out = np.asarray(t(np.ones((1, 32, 32), dtype=np.float32)))[0]
    assert out.min() >= 0.2 * 0.2 - 1e-6 and out.max() == 1.0
    # along depth (axis 0 here) a shadow only deepens
    assert np.all(np.diff(out, axis=0) <= 1e-6)


def test_shadowd_same_shadow_all_keys_and_prob_zero():
    t = RandAcousticShadowd(keys=["a", "b"], prob=1.0).set_random_state(5)
    d = t({"a": np.ones((1, 16, 16)), "b": 3 * np.ones((1, 16, 16))})
    np.testing.assert_allclose(np.asarray(d["b"]), 3 * np.asarray(d["a"]), rtol=1e-6)
    assert np.asarray(d["a"]).min() < 1.0
    same = RandAcousticShadowd(keys="a", prob=0.0)({"a": np.ones((1, 4, 4))})
    np.testing.assert_array_equal(np.asarray(same["a"]), np.ones((1, 4, 4)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_shadows": (0, 1)}, "num_shadows"),
        ({"width": (0.5, 0.1)}, "width"),
        ({"softness": 1.5}, "softness"),
        ({"lateral_axis": 1, "depth_axis": 1}, "distinct"),
    ],
)
def test_shadow_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandAcousticShadow(**kwargs)


def test_shadow_axis_out_of_range():
    with pytest.raises(ValueError, match="spatial axes"):
        RandAcousticShadow(prob=1.0, depth_axis=2)(np.ones((1, 4, 4)))
