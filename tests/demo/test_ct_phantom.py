"""Tests of the synthetic head CT phantom: determinism, densities, lesion geometry (speed: benchmark_phantoms)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cranialseg.demo import CT_LABELS, generate_ct_phantom, phantom_affine
from cranialseg.transforms import intracranial_mask


@pytest.fixture(scope="module")
def cases():
    """Eight default-size cases (about 7 s; together they hold every lesion type and lesion-free cases).

    Without skull blooming, so the densities below are the ones drawn (blooming lifts the voxels next to bone, a thin
    subdural crescent's median by up to ~30 HU; it is tested in test_realism.py)."""
    return [generate_ct_phantom(np.random.default_rng([0, i]), bloom=False, vertex_gap=0.0) for i in range(8)]


def test_deterministic_and_seed_dependent():
    a = generate_ct_phantom(np.random.default_rng(3), shape=(48, 48, 12))
    b = generate_ct_phantom(np.random.default_rng(3), shape=(48, 48, 12))
    c = generate_ct_phantom(np.random.default_rng(4), shape=(48, 48, 12))
    np.testing.assert_array_equal(a.hu, b.hu)
    np.testing.assert_array_equal(a.label, b.label)
    assert not np.array_equal(a.hu, c.hu)


def test_shapes_types_affine(cases):
    ph = cases[0]
    assert ph.hu.shape == (128, 128, 32) and ph.hu.dtype == np.int16
    assert ph.label.shape == ph.hu.shape and ph.label.dtype == np.uint8
    np.testing.assert_allclose(np.diag(ph.affine), [-1.8, -1.8, 5.0, 1.0])
    # the volume centre maps to the world origin
    np.testing.assert_allclose(ph.affine @ np.array([63.5, 63.5, 15.5, 1.0]), [0, 0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(phantom_affine((4, 4, 4), (1, 2, 3))[:3, 3], [1.5, 3.0, -4.5])


def test_tissue_densities(cases):
    for ph in cases[:4]:
        hu, lab = ph.hu.astype(float), ph.label
        assert hu.min() >= -1024 and np.percentile(hu, 10) < -900  # air around the head
        assert np.percentile(hu, 99.5) > 1000  # skull
        brain = ndimage.binary_erosion(intracranial_mask(hu), iterations=3) & (hu > -50)
        assert 20 < np.median(hu[brain & (lab == 0)]) < 45
        core = ndimage.binary_erosion(lab == CT_LABELS["ventricles"])
        if core.any():
            assert -5 < np.median(hu[core]) < 18


def test_lesion_labels_shapes_and_densities(cases):
    seen = set()
    for ph in cases:
        present = {name for name in ("EDH", "SDH", "IPH", "IVH") if (ph.label == CT_LABELS[name]).any()}
        assert present == set(ph.lesions)
        seen |= present
        hu, lab = ph.hu.astype(float), ph.label
        dist = ndimage.distance_transform_edt(hu < 500, sampling=(1.8, 1.8, 5.0))  # mm to the nearest bone
        for name in present:
            m = lab == CT_LABELS[name]
            assert 40 < np.median(hu[m]) < 95, (name, np.median(hu[m]))
        if "EDH" in present:  # a lens against the inner table: touches bone, at most ~20 mm thick
            d = dist[lab == CT_LABELS["EDH"]]
            assert d.min() < 2.0 and np.median(d) < 8.0 and d.max() < 24.0, (d.min(), np.median(d), d.max())
        if "SDH" in present:  # a thinner crescent along the convexity, never across the midline
            sdh = lab == CT_LABELS["SDH"]
            d = dist[sdh]
            assert d.min() < 2.0 and np.median(d) < 6.0 and d.max() < 16.0, (d.min(), np.median(d), d.max())
            grid_mm = (np.argwhere(sdh) - (np.array(hu.shape) - 1) / 2) * [1.8, 1.8, 5.0]
            lateral = ((grid_mm - ph.pose["shift"]) @ ph.pose["rotation"])[:, 0]  # anatomical left-right
            assert (lateral > 0).all() or (lateral < 0).all(), "an SDH does not cross the midline"
        if "IPH" in present:  # in the parenchyma, away from the skull
            d = dist[lab == CT_LABELS["IPH"]]
            assert d.min() > 2.0 and np.median(d) > 8.0, (d.min(), np.median(d))
        if "IVH" in present:  # blood inside the ventricular system, touching ventricle voxels
            ivh = lab == CT_LABELS["IVH"]
            assert (ndimage.binary_dilation(ivh, iterations=2) & (lab == CT_LABELS["ventricles"])).any()
    assert seen == {"EDH", "SDH", "IPH", "IVH"}
    assert any(not ph.lesions for ph in cases)  # some cases have no haemorrhage


def test_lesion_probability_zero_and_one():
    none = generate_ct_phantom(
        np.random.default_rng(0),
        shape=(64, 64, 16),
        spacing=(3.6, 3.6, 10.0),
        lesion_probability={"EDH": 0, "SDH": 0, "IPH": 0, "IVH": 0},
    )
    assert none.lesions == [] and set(np.unique(none.label)) <= {0, 1}
    every = generate_ct_phantom(np.random.default_rng(0), lesion_probability={"EDH": 1, "SDH": 1, "IPH": 1, "IVH": 1})
    assert len(every.lesions) >= 3


@pytest.mark.parametrize("shape, spacing", [((4, 4), (1, 1, 1)), ((8, 8, 8), (1, 0, 1)), ((2, 8, 8), (1, 1, 1))])
def test_bad_settings(shape, spacing):
    with pytest.raises(ValueError, match="shape"):
        generate_ct_phantom(np.random.default_rng(0), shape=shape, spacing=spacing)


def test_mimics_are_blood_dense_and_unlabelled():
    """The mimic anatomy (sinuses, tentorium, glomus, calcifications) raises HU but never adds a lesion label."""
    voxel_ml = 1.8 * 1.8 * 5.0 / 1000.0
    for i in range(3):
        kw = {"negative_fraction": 1.0, "bloom": False, "vertex_gap": 0.0}
        with_mimics = generate_ct_phantom(np.random.default_rng([7, i]), **kw)
        without = generate_ct_phantom(np.random.default_rng([7, i]), mimics=False, **kw)
        np.testing.assert_array_equal(with_mimics.label, without.label)
        changed = (with_mimics.hu.astype(int) - without.hu.astype(int)) > 20
        assert changed.sum() * voxel_ml > 2.0  # several mL of dense normal anatomy
        assert set(np.unique(with_mimics.label[changed])) <= {0, 1}
        hu = with_mimics.hu[changed]
        assert ((hu >= 40) & (hu <= 95)).mean() > 0.4  # mostly in the range of acute blood


def test_negative_fraction_gives_lesion_free_cases():
    every = {"EDH": 1, "SDH": 1, "IPH": 1, "IVH": 1}
    for i in range(2):
        ph = generate_ct_phantom(
            np.random.default_rng([8, i]), (64, 64, 16), (3.6, 3.6, 10.0), every, negative_fraction=1.0
        )
        assert ph.lesions == [] and set(np.unique(ph.label)) <= {0, 1}
    positive = generate_ct_phantom(np.random.default_rng([8, 0]), (64, 64, 16), (3.6, 3.6, 10.0), every)
    assert len(positive.lesions) >= 3
    with pytest.raises(ValueError, match="negative_fraction"):
        generate_ct_phantom(np.random.default_rng(0), negative_fraction=1.5)
