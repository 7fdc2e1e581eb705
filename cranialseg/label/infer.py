"""MONAI Label inference task for a cranialseg bundle: ``BundleInferTask`` plus the workarounds it needs.

Needs ``monailabel`` (the MONAI Label environment built by ``scripts/setup_label_env.sh``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, cast

import nibabel as nib
import numpy as np
from fastapi import HTTPException
from monai.transforms import SaveImage, SaveImaged
from monai.utils import convert_to_numpy
from monailabel.interfaces.tasks.infer_v2 import InferType
from monailabel.tasks.infer.bundle import BundleConstants, BundleInferTask
from monailabel.utils.others.generic import file_ext

from cranialseg.io.nifti import NIFTI_SUFFIXES
from cranialseg.label.errors import INPUT_ERROR_STATUS, find_input_error
from cranialseg.transforms.dims import SqueezeChanneld
from cranialseg.transforms.meta import RestoreItemsd, StashItemsd
from cranialseg.utils.spatial import embed_affine_2d

__all__ = ["CranialSegInferTask", "PostprocessingConstants"]

_logger = logging.getLogger(__name__)


class PostprocessingConstants(BundleConstants):
    """Read the bundle's ``postprocessing`` only, not the ``post_transforms`` it adds for MONAI Label's stock app.

    MONAI Label's ``BundleInferTask`` takes ``post_transforms`` over ``postprocessing`` when both exist
    (``monailabel/tasks/infer/bundle.py:255-264``); the ultrasound bundle's ``post_transforms`` squeezes the channel
    and casts to uint8 for the stock ``monaibundle`` app, which this task does after ``Restored`` itself.
    """

    def key_postprocessing(self) -> Sequence[str]:
        return ["postprocessing"]


class CranialSegInferTask(BundleInferTask):
    """Serve one cranialseg bundle (its ``configs/inference.json``) as a MONAI Label segmentation model.

    On top of MONAI Label's ``BundleInferTask`` it:

    * moves the string ``image_path`` (``monailabel/tasks/infer/basic_infer.py:282``) out of the way of MONAI 1.6's
      ``Spacingd`` (``monai/transforms/spatial/dictionary.py:526-531``) and restores it for the writer;
    * drops the singleton channel of a 2D label map left by ``Restored`` (``monailabel/transform/post.py:157``), so
      the writer saves a ``(W, H)`` PNG on the input's grid instead of a 3D ITK image;
    * drops MONAI's array ``SaveImage`` from the postprocessing too, not only ``SaveImaged``
      (``monailabel/tasks/infer/bundle.py:86``): MONAI Label writes the label map itself;
    * writes labels as ``uint8`` and a 2D JPEG input's labels as PNG (lossless), unless the request says otherwise;
    * writes a NIfTI input's label with the input's own header, so a sheared affine (gantry-tilted CT) is kept
      instead of being straightened by MONAI Label's ITK writer;
    * writes a 2D NIfTI label map with the input's affine: MONAI Label's writer drops the affine of 2D arrays
      (``monailabel/transform/writer.py:232``) and its nibabel path fails on them (``writer.py:228-230``);
    * answers an input that does not fit the model (a CT sent to the ultrasound model, an unreadable file) with
      ``422`` and the message, not MONAI Label's bare ``500`` (:mod:`cranialseg.label.errors`);
    * sets the task type to segmentation whatever the folder name (``monailabel/tasks/infer/bundle.py:274-289``
      guesses it from words such as ``detection`` in the name).

    Args:
        path: the bundle folder (``<app>/model/<name>``).
        conf: the app's ``--conf`` settings.
        kwargs: passed to ``BundleInferTask``.

    Example:
        >>> task = CranialSegInferTask("app/model/head_ct_haemorrhage_segmentation", {})  # doctest: +SKIP
        >>> task.info()["dimension"], sorted(task.info()["labels"])  # doctest: +SKIP
        (3, ['edh', 'iph', 'ivh', 'sdh', 'ventricles'])
    """

    def __init__(self, path: str, conf: Dict[str, str], **kwargs: Any):
        kwargs.setdefault("type", InferType.SEGMENTATION)
        kwargs.setdefault("const", PostprocessingConstants())
        kwargs.setdefault("post_filter", [SaveImaged, SaveImage])
        super().__init__(path, conf, **kwargs)

    def __call__(self, request: Dict[str, Any], callbacks: Any = None) -> Tuple[Any, Dict]:
        try:
            return super().__call__(request, callbacks)
        except Exception as err:
            cause = find_input_error(err)
            if cause is None:
                raise
            model = request.get("model") or os.path.basename(self.bundle_path)
            _logger.warning(f"{model}: input refused: {cause}")
            raise HTTPException(status_code=INPUT_ERROR_STATUS, detail=f"{model}: {cause}") from err

    def pre_transforms(self, data: Optional[Dict[str, Any]] = None) -> Sequence[Callable]:
        return [StashItemsd(keys=self.key_image), *super().pre_transforms(data)]

    def post_transforms(self, data: Optional[Dict[str, Any]] = None) -> Sequence[Callable]:
        return [
            *super().post_transforms(data),
            SqueezeChanneld(keys=self.key_pred, spatial_dims=3 if self.dimension == 3 else 2),
            RestoreItemsd(),
        ]

    def writer(self, data: Dict[str, Any], extension: Optional[str] = None, dtype: Any = None) -> Tuple[Any, Any]:
        if dtype is None and not data.get("result_dtype"):
            dtype = "uint8"
        path = data.get("image_path")
        if extension is None and not data.get("result_extension") and isinstance(path, str):
            if os.path.splitext(path)[1].lower() in (".jpg", ".jpeg"):
                extension = ".png"
        ext = extension or data.get("result_extension") or (file_ext(path) if isinstance(path, str) else None)
        label = data.get(self.output_label_key)
        if ext in NIFTI_SUFFIXES and label is not None and len(label.shape) == 2:
            return self._write_2d_nifti(data, ext, dtype or data.get("result_dtype"))
        if ext in NIFTI_SUFFIXES and label is not None and isinstance(path, str):
            written = self._write_nifti_on_input_grid(data, path, ext, dtype or data.get("result_dtype"))
            if written is not None:
                return written
        return super().writer(data, extension=extension, dtype=dtype)

    def _write_nifti_on_input_grid(self, data: Dict[str, Any], path: str, ext: str, dtype: Any):
        """Write a 3D label with the NIfTI input's own header (affine, qform and sform), or None if not possible.

        MONAI Label's ITK writer (``monailabel/transform/writer.py:232``) turns the affine into an orthonormal
        direction, so a sheared grid (a gantry-tilted CT converted by dcm2niix) comes back straightened: same shape,
        other voxel positions. The label of ``Restored`` is in the input file's voxel order, so the input's header
        puts it on exactly the input's grid.
        """
        if not path.lower().endswith(NIFTI_SUFFIXES) or not os.path.isfile(path):
            return None
        src = cast(Any, nib.load(path))
        arr = convert_to_numpy(data[self.output_label_key])
        if tuple(arr.shape) != tuple(src.shape[: arr.ndim]) or arr.ndim != len(src.shape):
            _logger.warning(f"label {arr.shape} is not on the input grid {src.shape}; MONAI Label's writer used")
            return None
        header = src.header.copy()
        header.set_data_dtype(np.dtype(dtype or "uint8"))
        header["scl_slope"], header["scl_inter"] = 1.0, 0.0
        fd, out = tempfile.mkstemp(suffix=ext)
        os.close(fd)
        nib.save(nib.Nifti1Image(arr.astype(np.dtype(dtype or "uint8")), src.affine, header=header), out)
        _logger.info(f"label {arr.shape} written with the input's NIfTI header (affine, qform, sform) to {out}")
        return out, data.get(self.output_json_key, {})

    def _write_2d_nifti(self, data: Dict[str, Any], ext: str, dtype: Any) -> Tuple[str, Any]:
        arr = convert_to_numpy(data[self.output_label_key]).astype(np.dtype(dtype or "uint8"))
        meta = data.get(f"{self.output_label_key}_meta_dict") or {}
        affine = meta.get("affine")
        if affine is None:
            image = data.get(self.key_image)
            affine = getattr(image, "meta", {}).get("original_affine", getattr(image, "affine", None))
        affine = np.eye(4) if affine is None else np.asarray(convert_to_numpy(affine), dtype=np.float64)
        if affine.shape == (3, 3):  # a 2D affine: (x, y) rotation/scale and translation
            affine = embed_affine_2d(affine)
        fd, out = tempfile.mkstemp(suffix=ext)
        os.close(fd)
        nib.save(nib.Nifti1Image(arr, affine), out)
        _logger.info(f"2D NIfTI label {arr.shape} written with the input's affine to {out}")
        return out, data.get(self.output_json_key, {})
