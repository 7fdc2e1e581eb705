"""The band under the skull: skull_band_profile on a known image, and the CT phantoms' skull blooming."""

from __future__ import annotations

import numpy as np
import pytest

from cranialseg.demo import generate_ct_phantom, skull_band_profile


def _ring_slice(spacing: float = 0.5) -> np.ndarray:
    """Air, a 6 mm skull (1500 HU) with inner radius 60 mm, brain 30 HU, a 70 HU band 2 mm under the inner table."""
    n = int(160 / spacing)
    x = (np.arange(n) - (n - 1) / 2) * spacing
    r = np.hypot(x[:, None], x[None, :])
    hu = np.full((n, n), -1000.0, dtype=np.float32)
    hu[r < 66.0] = 1500.0
    hu[r < 60.0] = 30.0
    hu[(r >= 58.0) & (r < 60.0)] = 70.0
    return hu


def test_profile_of_a_known_ring():
    band = skull_band_profile(_ring_slice(), (0.5, 0.5), edges_mm=(0.25, 1.0, 1.75))
    deep = skull_band_profile(_ring_slice(), (0.5, 0.5), edges_mm=(2.75, 4.0, 8.0))
    assert [(r["from_mm"], r["to_mm"]) for r in band + deep] == [(0.25, 1.0), (1.0, 1.75), (2.75, 4.0), (4.0, 8.0)]
    assert [r["median_hu"] for r in band + deep] == [70.0, 70.0, 30.0, 30.0]
    assert [r["blood_fraction"] for r in band + deep] == [1.0, 1.0, 0.0, 0.0]
    assert all(r["voxels"] > 500 for r in band + deep)  # rings of about 740 voxels per 0.5 mm
    three_d = skull_band_profile(np.stack([_ring_slice()] * 3, -1), (0.5, 0.5, 5.0), edges_mm=(0.25, 1.0))
    assert three_d[0]["median_hu"] == 70.0 and three_d[0]["voxels"] == 3 * band[0]["voxels"]


def test_profile_skips_slices_without_a_head_and_rejects_bad_input():
    air = np.full((64, 64, 2), -1000.0, dtype=np.float32)
    assert all(r["voxels"] == 0 and r["median_hu"] is None for r in skull_band_profile(air, (1.0, 1.0, 5.0)))
    with pytest.raises(ValueError, match="2D or 3D"):
        skull_band_profile(np.zeros(8), (1.0,))
    with pytest.raises(ValueError, match="increasing"):
        skull_band_profile(air, (1.0, 1.0), edges_mm=(2.0, 1.0))
    with pytest.raises(ValueError, match="in-plane"):
        skull_band_profile(air, (0.0, 1.0))


def test_skull_blooming_raises_the_band_under_the_inner_table_only():
    """Blooming (issue 17) brings the blood-dense band of real scans into the phantoms; labels and deep brain stay."""
    edges = (1.0, 3.0, 20.0, 40.0)  # at 1.8 mm pixels: the first ring, then deep brain
    rises = []
    for i in range(3):
        kw = dict(shape=(128, 128, 16), spacing=(1.8, 1.8, 5.0), negative_fraction=1.0, vertex_gap=0.0)
        bloomed = generate_ct_phantom(np.random.default_rng([9, i]), **kw)
        plain = generate_ct_phantom(np.random.default_rng([9, i]), bloom=False, **kw)
        np.testing.assert_array_equal(bloomed.label, plain.label)  # same anatomy, same draws
        a, b = skull_band_profile(bloomed.hu, kw["spacing"], edges), skull_band_profile(plain.hu, kw["spacing"], edges)
        rises.append(a[0]["median_hu"] - b[0]["median_hu"])
        assert abs(a[2]["median_hu"] - b[2]["median_hu"]) <= 2.0  # deep brain: untouched
    assert min(rises) >= 0.0 and max(rises) >= 8.0, rises


def test_vertex_gap_interpolates_slices_at_the_top_of_the_brain_only():
    """A gap in the slice positions at the vertex (issue 17), filled by a blend of the acquired slices around it."""
    kw = dict(shape=(96, 96, 32), spacing=(2.4, 2.4, 5.0), negative_fraction=1.0, bloom=False)
    for i in range(4):
        gap = generate_ct_phantom(np.random.default_rng([11, i]), vertex_gap=1.0, **kw)
        none = generate_ct_phantom(np.random.default_rng([11, i]), vertex_gap=0.0, **kw)
        np.testing.assert_array_equal(gap.label, none.label)  # the anatomy (and every other draw) stays
        changed = np.flatnonzero((gap.hu != none.hu).any(axis=(0, 1)))
        assert 1 <= len(changed) <= 2 and np.all(np.diff(changed) == 1)  # one or two neighbouring slices
        first, last = int(changed[0]), int(changed[-1])
        head = np.flatnonzero((none.hu > 0).any(axis=(0, 1)))
        assert last >= head.max() - 5  # near the vertex, not in the middle of the head
        below, above = none.hu[..., first - 1].astype(float), none.hu[..., last + 1].astype(float)
        for k in range(first, last + 1):  # each filled slice lies between its two acquired neighbours
            lo, hi = np.minimum(below, above) - 1, np.maximum(below, above) + 1
            assert np.all((gap.hu[..., k] >= lo) & (gap.hu[..., k] <= hi))
    assert not np.array_equal(gap.hu, none.hu)


def test_thick_slice_cases_are_resampled_to_the_grid_and_leave_the_others_as_they_were():
    """Thick-slice acquisition (issue 17: the GE series' upper half is 7 mm): a case drawn thick is made at 6.5-8 mm
    and linearly resampled to the requested grid, so its slices are blends of their thick neighbours; a case drawn
    thin is exactly the default case of the same seed (the draw has a stream of its own)."""
    from cranialseg.demo.ct_phantom import THICK_SLICE_MM

    kw = dict(shape=(64, 64, 24), spacing=(3.0, 3.0, 5.0), bloom=False, vertex_gap=0.0)
    thickness = []
    for i in range(8):
        default = generate_ct_phantom(np.random.default_rng([12, i]), **kw)
        drawn = generate_ct_phantom(np.random.default_rng([12, i]), thick_slices=0.5, **kw)
        assert drawn.hu.shape == drawn.label.shape == (64, 64, 24)
        np.testing.assert_array_equal(drawn.affine, default.affine)
        thickness.append(drawn.slice_thickness_mm)
        if drawn.slice_thickness_mm == 5.0:
            np.testing.assert_array_equal(drawn.hu, default.hu)
            np.testing.assert_array_equal(drawn.label, default.label)
            continue
        assert THICK_SLICE_MM[0] <= drawn.slice_thickness_mm <= THICK_SLICE_MM[1]
        assert set(drawn.lesions) <= {"EDH", "SDH", "IPH", "IVH"}
        assert all((drawn.label == {"EDH": 2, "SDH": 3, "IPH": 4, "IVH": 5}[n]).any() for n in drawn.lesions)
        # nearest-neighbour labels: fewer distinct slices than the grid has (each thick slice spans more than one)
        distinct = sum(not np.array_equal(drawn.label[..., k], drawn.label[..., k + 1]) for k in range(23))
        assert distinct < 23 * 5.0 / drawn.slice_thickness_mm + 1
    assert 5.0 in thickness and any(t > 5.0 for t in thickness), thickness
    with pytest.raises(ValueError, match="thick_slices"):
        generate_ct_phantom(np.random.default_rng(0), thick_slices=1.5)
