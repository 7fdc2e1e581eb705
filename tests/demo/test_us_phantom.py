"""Tests of the synthetic cranial ultrasound phantom."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cranialseg.demo import US_LABELS, generate_us_phantom
from cranialseg.transforms import estimate_sector_mask


@pytest.fixture(scope="module")
def images():
    return [generate_us_phantom(np.random.default_rng([0, i])) for i in range(16)]


def test_deterministic():
    a, b = (generate_us_phantom(np.random.default_rng(5)) for _ in range(2))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.label, b.label)
    assert not np.array_equal(a.image, generate_us_phantom(np.random.default_rng(6)).image)


def test_geometry_and_types(images):
    ph = images[0]
    assert ph.image.shape == (256, 256) and ph.image.dtype == np.uint8 and ph.label.dtype == np.uint8
    assert ph.spacing == (0.3, 0.3)
    assert 0.4 < ph.sector.mean() < 0.9
    # labels only inside the fan; nothing but annotations outside it
    assert not ph.label[~ph.sector].any()
    lab, n = ndimage.label(ph.sector)
    assert n == 1
    # the fan is narrow at the top (probe footprint) and wide at depth
    assert ph.sector[:, 2].sum() < 0.5 * ph.sector[:, 200].sum()


def test_ventricles_anechoic_clot_echogenic(images):
    ivh_seen = 0
    for ph in images:
        img, lab = ph.image.astype(float), ph.label
        vent = ndimage.binary_erosion(lab == US_LABELS["ventricles"])
        paren = ph.sector & (lab == 0) & (np.arange(256)[None, :] > 40) & (np.arange(256)[None, :] < 150)
        if vent.sum() > 10:
            assert img[vent].mean() < 0.4 * img[paren].mean()
        # two ventricles, one each side of the midline
        xs = np.nonzero(lab > 0)[0]
        assert (xs < 128).any() and (xs >= 128).any()
        if ph.ivh:
            ivh_seen += 1
            clot = lab == US_LABELS["IVH"]
            assert img[clot].mean() > 2 * img[lab == US_LABELS["ventricles"]].mean()
            assert ndimage.binary_dilation(clot, iterations=2)[lab == US_LABELS["ventricles"]].any()
    assert 2 <= ivh_seen <= 14
    # ventricle size varies from slit-like to dilated
    widths = [ph.ventricle_index for ph in images]
    assert min(widths) < 4.0 and max(widths) > 7.0


def test_annotations_outside_sector_are_removed_by_sector_estimation(images):
    ph = images[1]
    assert ph.image[~ph.sector].max() > 150  # burned-in text and ruler
    est = estimate_sector_mask(ph.image)
    assert not (est & (ph.image > 150) & ~ph.sector).any()
    dice = 2 * (est & ph.sector).sum() / (est.sum() + ph.sector.sum())
    assert dice > 0.9


def test_configurable_size():
    # generation speed is measured by scripts/benchmark_phantoms.py, not asserted here (a loaded CI machine)
    ph = generate_us_phantom(np.random.default_rng(0), size=(320, 200), spacing=0.25, annotations=False)
    assert ph.image.shape == (320, 200) and ph.spacing == (0.25, 0.25)
    assert not ph.image[~ph.sector].any()


def test_bad_settings():
    with pytest.raises(ValueError, match="size"):
        generate_us_phantom(np.random.default_rng(0), size=(16, 256))


def test_mimics_are_unlabelled_look_alikes():
    """Choroid plexus, cavum septi pellucidi, reverberation and the sector edge change the image, never the label."""
    changed_px = []
    for i in range(4):
        kw = {"size": (128, 128), "spacing": 0.6, "ivh_probability": 0.5}
        a = generate_us_phantom(np.random.default_rng([3, i]), **kw)
        b = generate_us_phantom(np.random.default_rng([3, i]), mimics=False, **kw)
        assert set(np.unique(a.label)) <= {0, 1, 2}
        # the mimics take ventricle pixels (plexus) at most, they never add labelled pixels
        assert not ((a.label > 0) & (b.label == 0)).any()
        assert ((a.label == 2) == (b.label == 2)).all()
        changed_px.append(int((np.abs(a.image.astype(int) - b.image.astype(int)) > 30).sum()))
    assert min(changed_px) > 50, changed_px
