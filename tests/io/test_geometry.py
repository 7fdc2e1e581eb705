"""Gantry tilt and uneven slice gaps: detection, refusal, and resampling onto a regular grid."""

from __future__ import annotations

import numpy as np
import pytest

from cranialseg.io import InputError, load_image
from cranialseg.io.geometry import analyze_slice_stack, resample_slice_stack
from tests.io.builders import write_ct_series

AXIAL = (1.0, 0, 0, 0, 1.0, 0)


def tilted_positions(along_normal, tilt_deg, orientation=AXIAL):
    """Slice origins that move ``along_normal`` mm along the normal and shift in-plane along the column cosine."""
    ori = np.asarray(orientation, float).reshape(2, 3)
    normal = np.cross(ori[0], ori[1])
    s = np.asarray(along_normal, float)
    return np.outer(s, normal) + np.outer(s * np.tan(np.radians(tilt_deg)), ori[1])


def test_analyze_regular_tilted_uneven():
    geo = analyze_slice_stack(tilted_positions([0, 2, 4, 6], 0.0)[::-1], AXIAL)
    assert geo.order.tolist() == [3, 2, 1, 0] and geo.regular and geo.tilt_deg == pytest.approx(0.0)
    geo = analyze_slice_stack(tilted_positions([0, 2, 4, 6], 15.0), AXIAL)
    assert geo.tilted and not geo.uneven and geo.tilt_deg == pytest.approx(15.0)
    geo = analyze_slice_stack(tilted_positions([0, 2, 3, 7], 0.0), AXIAL)
    assert geo.uneven and not geo.tilted and geo.gaps.tolist() == [2.0, 1.0, 4.0]
    assert "uneven slice gaps" in geo.describe() and "1, 2, 4 mm" in geo.describe()


@pytest.mark.parametrize("tilt", [0.0, 20.0])
def test_resample_reproduces_a_linear_field_exactly(tilt):
    """Sample f(world) = a.w + b on a tilted, unevenly spaced stack; the resampled grid must hold f at its voxels."""
    nx, ny, dx, dy = 12, 10, 0.8, 0.5
    s = np.array([0.0, 1.5, 2.0, 4.5, 8.0])
    pos = tilted_positions(s, tilt) + np.array([3.0, -2.0, 10.0])
    coef, bias = np.array([0.3, -0.7, 1.1]), 5.0
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    inplane = ii[..., None] * dx * np.array([1, 0, 0]) + jj[..., None] * dy * np.array([0, 1, 0])
    slices = np.stack([bias + (p + inplane) @ coef for p in pos], -1)
    out, aff = resample_slice_stack(slices, pos, AXIAL, (dx, dy), fill_value=np.nan)
    assert out.shape[2] == 17  # 8 mm / smallest gap 0.5 mm + 1
    np.testing.assert_allclose(np.linalg.norm(aff[:3, :3], axis=0), [dx, dy, 0.5])
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in out.shape], indexing="ij"), -1)
    world = grid @ aff[:3, :3].T + aff[:3, 3]
    expected = world @ coef + bias
    inside = np.isfinite(out)
    assert inside.mean() > (0.4 if tilt else 0.999)  # a tilted stack leaves corners uncovered
    np.testing.assert_allclose(out[inside], expected[inside], atol=1e-4)
    out2, aff2 = resample_slice_stack(slices, pos, AXIAL, (dx, dy), slice_spacing=2.0, fill_value=np.nan)
    assert out2.shape[2] == 5 and aff2[2, 2] == pytest.approx(2.0)


def test_uneven_written_series_error_and_resample(tmp_path):
    pos = tilted_positions([0, 2, 4, 7, 9], 0.0) + np.array([0, 0, 30.0])
    info = write_ct_series(tmp_path / "s", positions=pos, num_slices=5)
    with pytest.raises(InputError) as err:
        load_image(tmp_path / "s", on_irregular="error")
    assert err.value.path == str(tmp_path / "s")
    assert "uneven slice gaps" in err.value.problem and "2, 3 mm" in err.value.problem
    assert "on_irregular='resample'" in str(err.value)
    array, meta = load_image(tmp_path / "s", slice_spacing=1.0)
    assert array.shape == (40, 48, 10) and meta["resampled"]
    assert "resampled" in meta["geometry_fixes"][0] and "1 mm" in meta["geometry_fixes"][0]
    np.testing.assert_array_equal(array[..., 0], info["hu"][..., 0])
    hu = info["hu"]
    np.testing.assert_allclose(array[..., 3], (hu[..., 1] + hu[..., 2]) / 2, atol=1e-3)  # s=3 mm: halfway 2..4
    np.testing.assert_allclose(array[..., 5], (2 * hu[..., 2] + hu[..., 3]) / 3, atol=1e-3)  # s=5: 1/3 of 4..7
    np.testing.assert_array_equal(array[..., 9], info["hu"][..., 4])


def test_real_ge_series_tilt_and_gaps(shared_data):
    folder = shared_data / "head_ct_dicom_ge_tilt"
    with pytest.raises(InputError) as err:
        load_image(folder, on_irregular="error")
    assert "gantry tilt 18.5 deg" in err.value.problem and "1.08, 4, 7 mm" in err.value.problem
    array, meta = load_image(folder)
    assert meta["gantry_tilt_deg"] == pytest.approx(18.5, abs=0.05)
    assert meta["gantry_detector_tilt_tag"] == pytest.approx(18.5)
    np.testing.assert_allclose(sorted(set(np.round(meta["slice_gaps_mm"], 2))), [1.08, 4.0, 7.0], atol=0.01)
    assert meta["skipped_files"] == [str(folder / "LICENSE")]
    assert len(meta["source_files"]) == 28 and meta["source_files"][0].endswith("01.dcm")
    # grid: native 0.488 mm in-plane, 1.081 mm along the normal (the smallest gap), orthogonal axes
    np.testing.assert_allclose(meta["spacing"], [0.48828, 0.48828, 1.0811], atol=1e-3)
    axes = meta["affine"][:3, :3] / meta["spacing"]
    np.testing.assert_allclose(axes.T @ axes, np.eye(3), atol=1e-5)
    assert array.shape[0] == 512 and array.shape[1] > 512  # the tilted slices shift along the columns
    # slice 0 lies on the first output plane: its voxels come back unchanged
    import pydicom

    first = pydicom.dcmread(folder / "01.dcm")
    hu0 = first.pixel_array.T.astype(np.float32) * float(first.RescaleSlope) + float(first.RescaleIntercept)
    ras0 = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(first.ImagePositionPatient, float)
    start = np.linalg.solve(meta["affine"][:3, :3], ras0 - meta["affine"][:3, 3])
    assert np.allclose(start, np.round(start), atol=1e-3) and round(start[2]) == 0
    i0, j0 = int(round(start[0])), int(round(start[1]))
    np.testing.assert_allclose(array[i0 : i0 + 512, j0 : j0 + 512, 0], hu0, atol=1e-3)


def test_monai_pydicomreader_averages_where_we_do_not(shared_data, tmp_path):
    """Documents the trap: MONAI 1.6.1 stacks the tilted, uneven GE series with one averaged slice step."""
    import shutil

    from monai.data import PydicomReader

    files = sorted((shared_data / "head_ct_dicom_ge_tilt").glob("*.dcm"))
    for f in files[11:17]:  # slices 12-17: gaps 4.22, 4.22, 1.14, 7.38, 7.38 mm along z
        shutil.copy(f, tmp_path)
    reader = PydicomReader()
    _, meta = reader.get_data(reader.read(str(tmp_path)))
    monai_step = np.linalg.norm(meta["affine"][:3, 2])
    _, ours = load_image(tmp_path, on_irregular="resample")
    gaps = np.asarray(ours["slice_gaps_mm"])
    assert np.ptp(gaps) > 5.0  # 4.0, 1.08 and 7.0 mm along the normal: nothing one step can describe
    assert not np.isclose(monai_step, gaps, atol=0.01).all()
    assert ours["resampled"] and "uneven slice gaps" in ours["geometry_fixes"][0]
