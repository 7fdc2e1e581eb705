"""A corpus of hostile inputs for batch inference through a bundle's inference.json (not collected by pytest).

Each :class:`Hostile` entry writes one input (or a few) into its own folder ``<root>/<name>/`` and says what the
CT bundle must do with it: ``"output"`` (segmented, outputs written), ``"refused"`` with a text the reported error
must contain, ``"ignored"`` (reported as not an input) or ``"nothing"`` (no input there at all). The 29 inputs of
:mod:`tests.io.bad_inputs` come first, then the batch-inference ones of issue 12.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image

from tests.io.bad_inputs import BAD_INPUTS, build_good_inputs
from tests.io.builders import write_ct_series

__all__ = ["Hostile", "HOSTILE", "CORPUS_MAX_VOXELS"]

#: max_voxels of the corpus run (the 0.02 mm / 400 mm gap series needs 1.3e9 voxels: refused before allocating)
CORPUS_MAX_VOXELS = 2**27


@dataclass
class Hostile:
    name: str
    build: Callable[[Path], object]
    outcome: str  # "output" | "refused" | "ignored" | "nothing"
    text: str = ""  # what a refusal's message must contain
    count: int = 1  # how many cases with outputs ("output" only)


def _series(folder: Path, **kw) -> dict:
    return write_ct_series(folder, num_slices=kw.pop("num_slices", 4), rows=16, cols=12, **kw)


def _edit(path: str, fn) -> None:
    ds = pydicom.dcmread(path)
    fn(ds)
    ds.save_as(path, enforce_file_format=True)


def _nifti(path: Path, array: np.ndarray, affine=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), str(path))
    return path


def _volume() -> np.ndarray:
    vol = np.full((12, 10, 6), -1000.0, np.float32)
    vol[3:9, 3:7, 1:5] = 40.0
    return vol


# ---- issue 12 inputs ------------------------------------------------------------------------------------------
def series_number_traversal(root: Path) -> None:
    info = _series(root)
    for f in info["files"]:
        _edit(f, lambda ds: ds.add_new(0x00200011, "LO", "/../../../x"))  # a VR no validator checks


def odd_file_name(root: Path) -> None:
    _nifti(root / "a b;$(touch pwned) ..nii.gz", _volume(), np.diag([2.0, 2.0, 5.0, 1.0]))


def three_similar_names(root: Path) -> None:
    for i, name in enumerate(("foo.nii", "foo.nii.gz", "foo_2.nii.gz")):
        _nifti(root / name, _volume() + i, np.diag([2.0, 2.0, 5.0, 1.0]))


def seg_named_input(root: Path) -> None:
    _nifti(root / "head_seg.nii.gz", _volume(), np.diag([2.0, 2.0, 5.0, 1.0]))


def run_summary_named_input(root: Path) -> None:
    _nifti(root / "run_summary.nii.gz", _volume(), np.diag([2.0, 2.0, 5.0, 1.0]))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb_png(root: Path) -> None:
    """A 20000 x 20000 PNG header (PIL's DecompressionBombError at open), a few hundred bytes."""
    root.mkdir(parents=True, exist_ok=True)
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
    body = _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _png_chunk(b"IEND", b"")
    (root / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + body)


def long_folder_path(root: Path) -> None:
    """Nested folder names whose joined case id would pass the 255-byte file-name limit."""
    folder = root / ("d" * 200) / ("e" * 200) / ("f" * 200)
    _nifti(folder / "vol.nii.gz", _volume(), np.diag([2.0, 2.0, 5.0, 1.0]))


def nan_tiff(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    data = np.ones((20, 24), np.float32)
    data[3, 4] = np.nan
    Image.fromarray(data, mode="F").save(root / "float.tif")


def nan_2d_nifti(root: Path) -> None:
    data = np.ones((20, 24), np.float32)
    data[5, 5] = np.nan
    _nifti(root / "flat.nii.gz", data)


def nan_rescale_slope(root: Path) -> None:
    info = _series(root)
    _edit(info["files"][1], lambda ds: setattr(ds, "RescaleSlope", "NaN"))


def declared_huge_nifti(root: Path) -> None:
    """An 87-byte-style NIfTI whose header declares 2048 x 2048 x 300 int16 voxels."""
    header = nib.Nifti1Header()
    header.set_data_shape((2048, 2048, 300))
    header.set_data_dtype(np.int16)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "huge.nii.gz"
    import gzip

    with gzip.open(path, "wb") as fh:
        fh.write(header.binaryblock + b"\0" * 4)


def hostile_gaps(root: Path) -> None:
    """Slices 0.02 mm and 400 mm apart: the regular resampling grid would hold 1.3e9 voxels."""
    pos = np.array([[0, 0, z] for z in (0.0, 0.02, 400.0)])
    write_ct_series(root, rows=256, cols=256, positions=pos)


def _sform_only_nifti(path: Path, rows) -> None:
    """A NIfTI whose only affine is the sform ``rows`` (nibabel refuses such affines through set_qform)."""
    img = nib.Nifti1Image(_volume(), None)
    img.header.set_qform(None, code=0)
    for name, row in zip(("srow_x", "srow_y", "srow_z"), rows):
        img.header[name] = row
    img.header["sform_code"] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, str(path))


def zero_spacing_nifti(root: Path) -> None:
    _sform_only_nifti(root / "flat_affine.nii.gz", [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])


def nan_affine_nifti(root: Path) -> None:
    _sform_only_nifti(root / "nan_affine.nii.gz", [[1, 0, 0, np.nan], [0, 1, 0, 0], [0, 0, 1, 0]])


def steep_tilt(root: Path) -> None:
    """Each slice shifted 10 mm in-plane per 2.5 mm along the normal: a 76 degree 'tilt'."""
    pos = np.array([[10.0 * k, 0.0, 2.5 * k] for k in range(4)])
    _series(root, positions=pos)


def mr_series(root: Path) -> None:
    info = _series(root)
    for f in info["files"]:
        _edit(f, lambda ds: setattr(ds, "Modality", "MR"))


def single_slice_ct(root: Path) -> None:
    _series(root, num_slices=1)


def good_ct_series(root: Path) -> None:
    write_ct_series(root, num_slices=6, rows=40, cols=36, seed=3)


def readme_and_hidden_files(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.txt").write_text("exported by the scanner")
    (root / "notes.csv").write_text("a,b\n")


def _from_bad(bad) -> Callable[[Path], object]:
    return lambda root: bad.build(root)


#: expected outcome of each of the 29 inputs of tests/io/bad_inputs.py in a CT batch (default reader settings)
BAD_INPUT_OUTCOMES = {
    "truncated-dicom-pixels": ("refused", "pixel data cannot be decoded"),
    "truncated-dicom-header": ("refused", "truncated or empty DICOM header"),
    "empty-dcm-file": ("refused", "not a DICOM file"),
    "missing-pixel-data": ("refused", "without pixel data"),
    "slice-without-pixels": ("refused", "without pixel data"),
    "enhanced-multiframe-ct": ("refused", "multi-frame (enhanced) CT"),
    "unknown-series-uid": ("output", ""),  # a normal series: the uid was the reader option
    "mixed-series": ("output", ""),  # two series in one folder: two cases
    "duplicated-slice": ("refused", "duplicated slice position"),
    "missing-image-position": ("refused", "missing ImagePositionPatient"),
    "inconsistent-rows-cols": ("refused", "slice size 8x12 differs from 16x12"),
    "inconsistent-orientation": ("refused", "ImageOrientationPatient"),
    "zero-rows-dicom": ("refused", "zero-size image"),
    "single-slice-for-volume": ("refused", "a single slice"),
    "irregular-gaps-refused": ("output", ""),  # resampled by default (on_irregular="resample")
    "cine-for-volume": ("refused", "cranial_us_ventricle_segmentation"),
    "zero-size-nifti": ("refused", "zero-size image"),
    "nan-nifti": ("refused", "1 NaN and 0 inf voxels"),
    "inf-nifti": ("refused", "0 NaN and 1 inf voxels"),
    "4d-nifti-for-3d": ("refused", "4D input, expected 3D"),
    "volume-for-2d": ("output", ""),  # a volume is what the CT bundle wants
    "unreadable-nifti": ("refused", "unreadable NIfTI file"),
    "truncated-png": ("refused", "unreadable image"),
    "text-file-as-png": ("refused", "unreadable image"),
    "empty-folder": ("nothing", ""),
    "non-image-folder": ("ignored", "not an image file"),
    "missing-path": ("nothing", ""),
    "label-unexpected-values": ("output", ""),  # a tiny NIfTI volume: segmented
    "label-other-grid": ("output", ""),  # two NIfTI volumes
}

HOSTILE = [
    Hostile(
        b.name,
        _from_bad(b),
        *BAD_INPUT_OUTCOMES[b.name],
        count=2 if b.name in ("mixed-series", "label-other-grid") else 1,
    )
    for b in BAD_INPUTS
] + [
    Hostile("series-number-traversal", series_number_traversal, "output"),
    Hostile("odd-file-name", odd_file_name, "output"),
    Hostile("foo-foo-foo2", three_similar_names, "output", count=3),
    Hostile("seg-named-input", seg_named_input, "output"),
    Hostile("run-summary-named-input", run_summary_named_input, "output"),
    Hostile("decompression-bomb-png", decompression_bomb_png, "refused", "DecompressionBombError"),
    Hostile("long-folder-path", long_folder_path, "output"),
    Hostile("nan-float-tiff", nan_tiff, "refused", "1 NaN/inf pixels"),
    Hostile("nan-2d-nifti", nan_2d_nifti, "refused", "1 NaN and 0 inf voxels"),
    Hostile("nan-rescale-slope", nan_rescale_slope, "refused", "not finite"),
    Hostile("declared-huge-nifti", declared_huge_nifti, "refused", "2048 x 2048 x 300"),
    Hostile("gaps-0.02-and-400mm", hostile_gaps, "refused", "exceeds max_voxels"),
    Hostile("zero-spacing-nifti", zero_spacing_nifti, "refused", "zero spacing"),
    Hostile("nan-affine-nifti", nan_affine_nifti, "refused", "NaN"),
    Hostile("tilt-above-limit", steep_tilt, "refused", "exceeds max_tilt_deg"),
    Hostile("mr-series-to-ct", mr_series, "refused", "Modality is 'MR'"),
    Hostile("single-slice-ct", single_slice_ct, "refused", "a single slice; the bundle"),
    Hostile("good-ct-series", good_ct_series, "output"),
    Hostile("readme-and-csv", readme_and_hidden_files, "ignored", "not an image file"),
]


def build_good_batch(root: Path) -> None:
    """The good inputs of tests/io/bad_inputs.py (CT series, NIfTI; US frames and a picture refused by CT)."""
    build_good_inputs(root)
