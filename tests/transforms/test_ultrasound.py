"""Tests of the ultrasound grey conversion and sector masking transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage
from scipy import ndimage

from cranialseg.transforms import (
    SectorMask,
    SectorMaskd,
    UltrasoundToGrey,
    UltrasoundToGreyd,
    estimate_sector_mask,
)


@pytest.mark.parametrize("spatial", [(2, 1), (2, 1, 1)])
def test_to_grey_exact_luma_and_colour_removal(spatial):
    rgb = np.zeros((3, 2), dtype=np.float32)
    rgb[:, 0] = (10.0, 20.0, 30.0)  # slightly coloured: chroma 20 < 0.1 * 255 -> kept as luma
    rgb[:, 1] = (255.0, 255.0, 0.0)  # yellow annotation -> removed
    out = UltrasoundToGrey()(rgb.reshape((3, *spatial)))
    assert out.shape == (1, *spatial)
    np.testing.assert_allclose(np.asarray(out).ravel(), [0.299 * 10 + 0.587 * 20 + 0.114 * 30, 0.0], rtol=1e-6)
    kept = UltrasoundToGrey(colour_tolerance=None)(rgb.reshape((3, *spatial)))
    np.testing.assert_allclose(np.asarray(kept).ravel()[1], 0.299 * 255 + 0.587 * 255, rtol=1e-6)


def test_to_grey_rgba_grey_passthrough_and_meta():
    rgba = MetaTensor(torch.full((4, 3, 2), 7.0), affine=torch.diag(torch.tensor([0.2, 0.3, 1.0, 1.0])))
    out = UltrasoundToGrey()(rgba)
    assert isinstance(out, MetaTensor) and out.shape == (1, 3, 2)
    assert torch.allclose(out.as_tensor(), torch.full((1, 3, 2), 7.0))
    assert torch.equal(out.affine, rgba.affine)
    grey = np.arange(6.0).reshape(1, 3, 2)
    np.testing.assert_array_equal(np.asarray(UltrasoundToGrey()(grey)), grey)


@pytest.mark.parametrize("kwargs, match", [({"weights": (1.0, 0.0)}, "3 values"), ({"colour_tolerance": 2.0}, "0, 1")])
def test_to_grey_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UltrasoundToGrey(**kwargs)


def test_to_grey_bad_channels():
    with pytest.raises(ValueError, match="1, 3 \\(RGB\\) or 4"):
        UltrasoundToGrey()(np.zeros((2, 4, 4)))


def _fan_phantom(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A sector from apex (64, -20) between 60 and 120 degrees, radius 40-140, speckled, plus text corners."""
    x, y = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    r = np.hypot(x - 64, y + 20)
    theta = np.degrees(np.arctan2(y + 20, x - 64))
    fan = (r > 40) & (r < 140) & (theta > 60) & (theta < 120)
    rng = np.random.default_rng(0)
    img = np.where(fan, 60.0 * rng.rayleigh(1.0, size=fan.shape) + 5.0, 0.0)
    img[2:20, 2:8] = 255.0  # burned-in text block, top-left
    img[120:126, 2:5] = 200.0  # ruler tick, top-right
    img[125:127, 2:40] = 255.0  # a depth scale bar at the right edge
    return img.astype(np.float32), fan


def test_estimate_sector_mask_synthetic_fan():
    img, fan = _fan_phantom()
    mask = estimate_sector_mask(img)
    dice = 2 * (mask & fan).sum() / (mask.sum() + fan.sum())
    assert dice > 0.95  # the convex hull also covers the concave near-field arc (r < 40) of this phantom
    assert (mask & fan).sum() > 0.98 * fan.sum()
    assert not mask[2:20, 2:8].any() and not mask[120:126, 2:5].any() and not mask[125:127, 2:40].any()
    assert ndimage.label(mask)[1] == 1


def test_estimate_sector_mask_empty_frame():
    assert not estimate_sector_mask(np.zeros((16, 16))).any()


def test_sector_mask_2d_and_cine_3d():
    img, fan = _fan_phantom()
    out = np.asarray(SectorMask()(img[None]))[0]
    assert out[2:20, 2:8].max() == 0.0 and out[125:127, 2:40].max() == 0.0
    np.testing.assert_array_equal(out[fan], img[fan])
    cine = np.stack([img, 0.5 * img, 0.25 * img], axis=-1)[None]
    mask = np.asarray(SectorMask(return_mask=True)(cine))
    assert mask.shape == cine.shape and mask.dtype == np.uint8
    for t in range(3):
        np.testing.assert_array_equal(mask[0, ..., t], mask[0, ..., 0])


def test_sector_maskd_writes_mask_and_applies_to_all_keys():
    img, _ = _fan_phantom()
    label = np.ones_like(img)[None]
    out = SectorMaskd(keys=["image", "label"], mask_key="sector")({"image": img[None], "label": label})
    np.testing.assert_array_equal(np.asarray(out["label"]), np.asarray(out["sector"]).astype(np.float32))
    assert np.asarray(out["sector"]).sum() > 0.2 * img.size


def test_sector_maskd_masks_a_prediction_with_its_image_sector():
    """As the cranial-US inference uses it: the sector of ``original_image`` zeroes ``pred`` outside the fan."""
    img, _ = _fan_phantom()
    pred = torch.full((1, *img.shape), 2.0)
    d = {"pred": pred, "original_image": img[None].copy()}
    out = SectorMaskd(keys="pred", source_key="original_image")(d)
    sector = SectorMask().compute_mask(img[None])
    np.testing.assert_array_equal(np.asarray(out["pred"]), np.where(sector, 2.0, 0.0))
    np.testing.assert_array_equal(out["original_image"], img[None])  # the source is read, not masked
    with pytest.raises(KeyError, match="source_key 'original_image'"):
        SectorMaskd(keys="pred", source_key="original_image")({"pred": pred})


def test_ultrasound_to_greyd_keys():
    d = UltrasoundToGreyd(keys="image")({"image": np.full((3, 2, 2), 50.0)})
    np.testing.assert_allclose(np.asarray(d["image"]), np.full((1, 2, 2), 50.0), rtol=1e-6)


@pytest.mark.shared
def test_sector_mask_on_real_neonatal_screenshots(shared_data):
    files = sorted((shared_data / "neonatal_cranial_us" / "StandardViews").rglob("*.png"))
    assert len(files) >= 20
    loader = LoadImage(reader="PILReader", image_only=True, ensure_channel_first=True)
    to_grey, sector = UltrasoundToGrey(), SectorMask(return_mask=True)
    for f in files[::3]:
        img = loader(f)  # (3, x, y): x = column, y = row
        grey = to_grey(img)
        mask = np.asarray(sector(grey))[0].astype(bool)
        nx, ny = mask.shape
        assert ndimage.label(mask)[1] == 1, f.name
        assert 0.25 < mask.mean() < 0.55, (f, mask.mean())
        # burned-in text (date, probe, settings) sits in the top 4 % rows at both corners; ruler at the right
        assert not mask[: nx // 5, : ny // 25].any(), f
        assert not mask[-nx // 5 :, : ny // 25].any(), f
        assert not mask[-nx // 30 :, :].any(), f
        # the grey-scale bar at the left middle
        assert not mask[: nx // 25, ny // 3 : ny // 2].any(), f
        # the fan's centre is inside, and the masked image keeps most of the bright tissue
        assert mask[nx // 2, ny // 2]
        g = np.asarray(grey)[0]
        assert g[mask].sum() > 0.9 * g[: nx - nx // 30].sum() - g[: nx // 25].sum()
