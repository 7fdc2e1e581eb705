"""A corpus of broken inputs, built from real files (pydicom-data) and small arrays into a test folder.

Each :class:`BadInput` writes one broken input under a root folder and says which file must be named in the
:class:`~cranialseg.io.InputError` and what the problem text must say. :func:`build_good_inputs` writes cases
that must keep loading next to them. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file

from cranialseg.io import check_label_values, check_same_grid, load_image
from tests.io.builders import write_ct_series

__all__ = ["BadInput", "BAD_INPUTS", "build_good_inputs", "BATCH_BAD"]

Built = Tuple[Any, Path]  # (what to load, the file or folder the error must name)


@dataclass
class BadInput:
    """One broken input.

    Attributes:
        name: test id.
        build: ``build(folder) -> (source, bad_path)`` writes the input into ``folder``.
        problem: a substring the error's ``.problem`` must contain.
        kwargs: keyword arguments for :func:`cranialseg.io.load_image`.
        action: what raises, ``action(source, **kwargs)``; default :func:`load_image`.
    """

    name: str
    build: Callable[[Path], Built]
    problem: str
    kwargs: Dict[str, Any] = field(default_factory=dict)
    action: Optional[Callable[..., Any]] = None

    def run(self, source: Any) -> Any:
        return (self.action or load_image)(source, **self.kwargs)


def _series(folder: Path, **kw: Any) -> Dict[str, Any]:
    return write_ct_series(folder, num_slices=kw.pop("num_slices", 4), rows=16, cols=12, **kw)


def _edit(path: str, fn: Callable[[pydicom.Dataset], None]) -> None:
    ds = pydicom.dcmread(path)
    fn(ds)
    ds.save_as(path, enforce_file_format=True)


def _nifti(path: Path, array: np.ndarray, affine: Optional[np.ndarray] = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), str(path))
    return path


def truncated_pixels(root: Path) -> Built:
    info = _series(root / "trunc")
    bad = Path(info["files"][2])
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) - 150])
    return root / "trunc", bad


def truncated_header(root: Path) -> Built:
    info = _series(root / "trunchead")
    bad = Path(info["files"][1])
    bad.write_bytes(bad.read_bytes()[:300])
    return root / "trunchead", bad


def empty_dcm_file(root: Path) -> Built:
    info = _series(root / "emptyfile")
    bad = Path(info["files"][0]).with_name("ZZ_empty.dcm")
    bad.write_bytes(b"")
    return root / "emptyfile", bad


def missing_pixel_data(root: Path) -> Built:
    info = _series(root / "nopixels", num_slices=1)
    _edit(info["files"][0], lambda ds: delattr(ds, "PixelData"))
    return info["files"][0], Path(info["files"][0])


def slice_without_pixels(root: Path) -> Built:
    info = _series(root / "lostpixels")
    _edit(info["files"][1], lambda ds: delattr(ds, "PixelData"))
    return root / "lostpixels", Path(info["files"][1])


def enhanced_multiframe_ct(root: Path) -> Built:
    info = _series(root / "enhanced", num_slices=1)

    def two_frames(ds: pydicom.Dataset) -> None:
        ds.NumberOfFrames = 2
        ds.PixelData = ds.PixelData * 2

    _edit(info["files"][0], two_frames)
    return info["files"][0], Path(info["files"][0])


def unknown_series_uid(root: Path) -> Built:
    _series(root / "pick")
    return root / "pick", root / "pick"


def mixed_series(root: Path) -> Built:
    _series(root / "mixed", prefix="A", series_number=1)
    _series(root / "mixed", prefix="B", series_number=2)
    return root / "mixed", root / "mixed"


def duplicated_slice(root: Path) -> Built:
    info = _series(root / "dup")
    shutil.copy(info["files"][1], Path(info["files"][1]).with_name("copy_of_slice.dcm"))
    _edit(str(Path(info["files"][1]).with_name("copy_of_slice.dcm")), lambda ds: setattr(ds, "SOPInstanceUID", "1.2.3"))
    return root / "dup", Path(info["files"][1]).parent  # either duplicate may be named: check the folder


def missing_position(root: Path) -> Built:
    info = _series(root / "noipp")
    _edit(info["files"][2], lambda ds: delattr(ds, "ImagePositionPatient"))
    return root / "noipp", Path(info["files"][2])


def inconsistent_size(root: Path) -> Built:
    info = _series(root / "size")

    def shrink(ds: pydicom.Dataset) -> None:
        ds.Rows, ds.Columns = 8, 12
        ds.PixelData = np.zeros((8, 12), np.int16).tobytes()

    _edit(info["files"][3], shrink)
    return root / "size", Path(info["files"][3])


def inconsistent_orientation(root: Path) -> Built:
    info = _series(root / "ori")
    _edit(info["files"][1], lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0, -1]))
    return root / "ori", Path(info["files"][1])


def zero_rows(root: Path) -> Built:
    info = _series(root / "zero", num_slices=1)

    def empty(ds: pydicom.Dataset) -> None:
        ds.Rows = 0
        ds.PixelData = b""

    _edit(info["files"][0], empty)
    return info["files"][0], Path(info["files"][0])


def single_slice_for_volume(root: Path) -> Built:
    _series(root / "single", num_slices=1)
    return root / "single", root / "single"


def irregular_refused(root: Path) -> Built:
    _series(root / "gaps", positions=np.array([[0, 0, z] for z in (0.0, 2.0, 5.0, 6.0)]))
    return root / "gaps", root / "gaps"


def cine_for_volume(root: Path) -> Built:
    path = root / "cine.dcm"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(get_testdata_file("examples_ybr_color.dcm"), path)
    return path, path


def zero_size_nifti(root: Path) -> Built:
    path = _nifti(root / "zero.nii.gz", np.zeros((0, 4, 4), np.float32))
    return path, path


def nan_nifti(root: Path) -> Built:
    data = np.zeros((4, 4, 4), np.float32)
    data[1, 2, 3] = np.nan
    path = _nifti(root / "nan.nii.gz", data)
    return path, path


def inf_nifti(root: Path) -> Built:
    data = np.zeros((4, 4, 4), np.float32)
    data[0, 0, 0] = np.inf
    path = _nifti(root / "inf.nii", data)
    return path, path


def nifti_4d(root: Path) -> Built:
    path = _nifti(root / "fourd.nii.gz", np.zeros((4, 4, 4, 3), np.float32))
    return path, path


def volume_for_2d(root: Path) -> Built:
    path = _nifti(root / "vol.nii.gz", np.zeros((4, 4, 4), np.float32))
    return path, path


def garbage_nifti(root: Path) -> Built:
    path = root / "garbage.nii.gz"
    root.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a nifti file" * 20)
    return path, path


def truncated_png(root: Path) -> Built:
    path = root / "trunc.png"
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:-400])
    return path, path


def text_as_png(root: Path) -> Built:
    path = root / "notes.png"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text("screenshot failed")
    return path, path


def empty_folder(root: Path) -> Built:
    (root / "empty").mkdir(parents=True)
    return root / "empty", root / "empty"


def non_image_folder(root: Path) -> Built:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "report.txt").write_text("no images here")
    (root / "docs" / "table.csv").write_text("a,b\n1,2\n")
    return root / "docs", root / "docs"


def missing_path(root: Path) -> Built:
    return root / "does_not_exist", root / "does_not_exist"


def label_bad_values(root: Path) -> Built:
    path = _nifti(root / "label_values.nii.gz", np.array([0, 1, 2, 9], np.uint8).reshape(1, 2, 2))
    return path, path


def label_other_grid(root: Path) -> Built:
    image = _nifti(root / "grid_image.nii.gz", np.zeros((4, 4, 4), np.float32))
    label = _nifti(root / "grid_label.nii.gz", np.zeros((4, 4, 4), np.uint8), np.diag([1, 1, 2.0, 1]))
    return (image, label), label


def _labels(path: Path) -> None:
    check_label_values(load_image(path)[0], range(6), path=path)


def _grid(pair: Tuple[Path, Path]) -> None:
    check_same_grid(*pair)


BAD_INPUTS: List[BadInput] = [
    BadInput("truncated-dicom-pixels", truncated_pixels, "pixel data cannot be decoded"),
    BadInput("truncated-dicom-header", truncated_header, "truncated or empty DICOM header"),
    BadInput("empty-dcm-file", empty_dcm_file, "not a DICOM file"),
    BadInput("missing-pixel-data", missing_pixel_data, "without pixel data"),
    BadInput("slice-without-pixels", slice_without_pixels, "without pixel data"),
    BadInput("enhanced-multiframe-ct", enhanced_multiframe_ct, "multi-frame (enhanced) CT with 2 frames"),
    BadInput("unknown-series-uid", unknown_series_uid, "series '1.2.3.4' not found", {"series_uid": "1.2.3.4"}),
    BadInput("mixed-series", mixed_series, "2 DICOM series in one folder"),
    BadInput("duplicated-slice", duplicated_slice, "duplicated slice position"),
    BadInput("missing-image-position", missing_position, "missing ImagePositionPatient"),
    BadInput("inconsistent-rows-cols", inconsistent_size, "slice size 8x12 differs from 16x12"),
    BadInput("inconsistent-orientation", inconsistent_orientation, "ImageOrientationPatient"),
    BadInput("zero-rows-dicom", zero_rows, "zero-size image"),
    BadInput("single-slice-for-volume", single_slice_for_volume, "where a volume", {"spatial_dims": 3}),
    BadInput("irregular-gaps-refused", irregular_refused, "uneven slice gaps", {"on_irregular": "error"}),
    BadInput("cine-for-volume", cine_for_volume, "30-frame cine", {"spatial_dims": 3}),
    BadInput("zero-size-nifti", zero_size_nifti, "zero-size image"),
    BadInput("nan-nifti", nan_nifti, "1 NaN and 0 inf voxels"),
    BadInput("inf-nifti", inf_nifti, "0 NaN and 1 inf voxels"),
    BadInput("4d-nifti-for-3d", nifti_4d, "4D image (4, 4, 4, 3) where a 3D volume", {"spatial_dims": 3}),
    BadInput("volume-for-2d", volume_for_2d, "where a 2D image is expected", {"spatial_dims": 2}),
    BadInput("unreadable-nifti", garbage_nifti, "unreadable NIfTI file"),
    BadInput("truncated-png", truncated_png, "unreadable image"),
    BadInput("text-file-as-png", text_as_png, "unreadable image"),
    BadInput("empty-folder", empty_folder, "empty folder"),
    BadInput("non-image-folder", non_image_folder, "no DICOM image found among 2 files"),
    BadInput("missing-path", missing_path, "no such file or folder"),
    BadInput("label-unexpected-values", label_bad_values, "label has unexpected values [9]", action=_labels),
    BadInput("label-other-grid", label_other_grid, "spacing [1.0, 1.0, 2.0] vs [1.0, 1.0, 1.0]", action=_grid),
]

#: bad inputs that sit in a batch folder next to good ones (the others need a caller's setting or a pair)
BATCH_BAD = [
    "truncated-dicom-pixels",
    "missing-pixel-data",
    "slice-without-pixels",
    "enhanced-multiframe-ct",
    "duplicated-slice",
    "missing-image-position",
    "inconsistent-rows-cols",
    "inconsistent-orientation",
    "zero-size-nifti",
    "nan-nifti",
    "unreadable-nifti",
    "truncated-png",
    "text-file-as-png",
    "non-image-folder",
]


def build_good_inputs(root: Path) -> Dict[str, Tuple[int, ...]]:
    """Write cases that must load next to the bad ones; returns ``{relative path: expected array shape}``."""
    _series(root / "good" / "ct_a", num_slices=5)
    write_ct_series(root / "good" / "nested" / "deeper" / "ct_b", num_slices=3, rows=10, cols=14, seed=2)
    (root / "good" / "us").mkdir(parents=True)
    shutil.copy(get_testdata_file("US1_UNCR.dcm"), root / "good" / "us" / "frame.dcm")
    palette = copy.deepcopy(pydicom.dcmread(get_testdata_file("OBXXXX1A.dcm")))
    palette.save_as(root / "good" / "us" / "palette", enforce_file_format=True)  # no suffix
    _nifti(root / "good" / "vol.nii.gz", np.ones((5, 6, 7), np.float32))
    Image.fromarray(np.full((9, 11, 3), 50, np.uint8)).save(root / "good" / "capture.png")
    return {
        "good/ct_a": (12, 16, 5),
        "good/nested/deeper/ct_b": (14, 10, 3),
        "good/us/frame.dcm": (640, 480),
        "good/us/palette": (800, 600),
        "good/vol.nii.gz": (5, 6, 7),
        "good/capture.png": (11, 9),
    }
