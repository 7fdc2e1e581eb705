"""The file-name suffixes the readers accept, defined once for every layer (io reads them, transforms check them)."""

from __future__ import annotations

__all__ = ["DICOM_SUFFIXES", "NIFTI_SUFFIXES", "RASTER_SUFFIXES"]

#: suffixes of DICOM files (many DICOM files have none: :func:`cranialseg.io.is_dicom_file` reads the preamble)
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
#: NIfTI volumes, compressed or not
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: pictures (screen captures, HC18 frames) read by :func:`cranialseg.io.load_raster_image`
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
