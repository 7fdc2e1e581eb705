"""Atomic writes, NIfTI/PNG label maps, per-class volumes and overlays."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from cranialseg.io import save_label_nifti, save_label_png, save_overlay_png
from cranialseg.metrics import class_volumes
from cranialseg.utils import atomic_write


def test_atomic_write_keeps_existing_and_cleans_up(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write(target, lambda p: p.write_text("one"))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        atomic_write(target, lambda p: p.write_text("two"))
    assert target.read_text() == "one"

    def failing(p):
        p.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, failing, overwrite=True)
    assert target.read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temporary file left
    atomic_write(target, lambda p: p.write_text("two"), overwrite=True)
    assert target.read_text() == "two"


def test_nifti_label_keeps_affine_and_shape(tmp_path):
    affine = np.array([[-1.8, 0, 0, 10], [0, -1.8, 0, 20], [0, 0, 5, -30], [0, 0, 0, 1]])
    label = np.zeros((1, 6, 7, 3))
    label[0, 2:4, 1:5, 1] = 3
    path = save_label_nifti(label, affine, tmp_path / "seg.nii.gz")
    img = nib.load(path)
    assert img.shape == (6, 7, 3) and img.get_data_dtype() == np.uint8
    np.testing.assert_allclose(img.affine, affine)
    np.testing.assert_array_equal(np.asarray(img.dataobj), label[0])


def test_png_label_is_rows_by_columns(tmp_path):
    label = np.zeros((1, 5, 3))  # MONAI (x, y) = (columns, rows)
    label[0, 4, 0] = 2
    arr = np.array(Image.open(save_label_png(label, tmp_path / "seg.png")))
    assert arr.shape == (3, 5) and arr[0, 4] == 2 and arr.sum() == 2


def test_class_volumes_exact():
    label = np.zeros((1, 10, 10, 4))
    label[0, :5, :2, :2] = 1  # 20 voxels
    label[0, 9, 9, 3] = 2  # 1 voxel
    volumes = class_volumes(label, np.diag([2.0, 2.0, 5.0, 1.0]), ["bg", "a", "b", "c"])
    assert volumes["a"] == {"label": 1, "voxels": 20, "volume_ml": 0.4}
    assert volumes["b"]["volume_ml"] == 0.02 and volumes["c"]["voxels"] == 0
    area = class_volumes(np.ones((1, 4, 5)), np.diag([0.5, 0.5, 1.0]), ["bg", "a"])
    assert area["a"] == {"label": 1, "voxels": 20, "area_mm2": 5.0}


def test_overlay_png_shows_contours(tmp_path):
    image = np.random.default_rng(0).random((1, 20, 16, 3))
    pred = np.zeros((1, 20, 16, 3))
    pred[0, 5:10, 5:10, 2] = 1
    arr = np.array(Image.open(save_overlay_png(image, pred, tmp_path / "o.png", label=pred, min_size=0)))
    assert arr.shape == (16, 20, 3)
    # the slice with the foreground is shown, its contour in the class-1 colour
    assert ((arr == (255, 215, 0)).all(axis=-1)).sum() == 16
    # by default small pictures are enlarged by an integer factor: 16 rows -> 32 x 16 = 512
    big = np.array(Image.open(save_overlay_png(image, pred, tmp_path / "big.png", label=pred)))
    assert big.shape == (512, 640, 3)
    assert ((big == (255, 215, 0)).all(axis=-1)).sum() == 4 * 5 * 32 - 4  # one-pixel contour of a 160-pixel square
