"""Per-case output writers of batch inference: dictionary transforms listed under ``writers`` in inference.json.

Each writer reads the post-processed case dict (``pred``: the label map on the input grid, ``original_image``: the
input kept by ``CopyItemsd``, ``case``: the case's id, source, kind and output folder) and writes one kind of output
atomically, recording its path in ``d["outputs"]``. Every output name is ``<case id><suffix>`` inside the output
folder, checked after resolving (no name from a file or a DICOM attribute can leave the folder). A bundle adds its
own outputs by appending a writer (any callable ``d -> d``) to the list; :class:`CaseWriterd` is the base to reuse.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monai.transforms import MapTransform

from cranialseg.utils.spatial import is_2d
from cranialseg.workflows.options import as_bool, path_inside, safe_name
from cranialseg.workflows.outputs import (
    class_volumes,
    save_label_nifti,
    save_label_png,
    save_overlay_png,
    to_numpy,
    write_json,
)

__all__ = [
    "CASE_KEY",
    "OUTPUTS_KEY",
    "CaseWriterd",
    "SaveLabelNiftid",
    "SaveLabelPngd",
    "SaveDicomSegd",
    "SaveVolumesd",
    "SaveOverlayd",
    "case_output_path",
    "label_and_affine",
]

#: where the engine puts the case's ``{"id", "source", "kind", "files", "output_dir"}``
CASE_KEY = "case"
#: where writers record ``{output name: path}``
OUTPUTS_KEY = "outputs"


def case_output_path(case: Mapping[str, Any], suffix: str) -> Path:
    """``<output_dir>/<id><suffix>``, the id made file-name safe and the result checked to stay in ``output_dir``.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> case_output_path({"id": "/../../x", "output_dir": d}, "_seg.nii.gz").name
        'x_seg.nii.gz'
    """
    return path_inside(case["output_dir"], safe_name(case["id"]) + suffix)


def label_and_affine(d: Mapping[Hashable, Any], pred_key: str = "pred", image_key: str = "original_image"):
    """The ``(1, *spatial)`` label map, its affine (the kept input's, else the prediction's) and spatial dims."""
    pred = d[pred_key]
    label = to_numpy(pred)  # channel-first, as MONAI's post-processing leaves it
    original = d.get(image_key)
    affine = getattr(original, "affine", None)
    if affine is None:
        affine = getattr(pred, "affine", np.eye(4))
    if original is not None and tuple(original.shape[1:]) != tuple(label.shape[1:]):
        raise RuntimeError(
            f"prediction shape {tuple(label.shape[1:])} differs from the input's {tuple(original.shape[1:])}; "
            "the post-processing must invert the spatial pre-processing (Invertd)"
        )
    spatial_dims = 2 if is_2d(label.shape, channel_first=True) else 3
    return label, to_numpy(affine), spatial_dims


class CaseWriterd(MapTransform):
    """Base of the per-case writers: subclasses implement :meth:`write` and return ``{name: path}``.

    Args:
        keys: the prediction key (``"pred"``).
        image_key: the input image kept by ``CopyItemsd`` (for the grid and overlays).
        enabled: ``False`` (or ``"false"``/``0``) writes nothing: the writer's on/off option.
        allow_missing_keys: as MONAI.
    """

    backend: list = []
    #: the option named when ``enabled`` is not a boolean
    option_name = "enabled"

    def __init__(
        self,
        keys: Any = "pred",
        image_key: str = "original_image",
        enabled: Any = True,
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.image_key = image_key
        self.enabled = as_bool(enabled, self.option_name)

    def write(self, d: Mapping[Hashable, Any], key: Hashable, case: Mapping[str, Any]) -> dict[str, Path]:
        raise NotImplementedError

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if not self.enabled:
            return d
        case = d[CASE_KEY]
        outputs = dict(d.get(OUTPUTS_KEY) or {})
        for key in self.key_iterator(d):
            outputs.update({k: str(v) for k, v in self.write(d, key, case).items()})
        d[OUTPUTS_KEY] = outputs
        return d


class SaveLabelNiftid(CaseWriterd):
    """``<id>_seg.nii.gz``: the uint8 label map on the input's grid (shape and affine of the input)."""

    def write(self, d, key, case):
        label, affine, _ = label_and_affine(d, key, self.image_key)
        return {"nifti": save_label_nifti(label, affine, case_output_path(case, "_seg.nii.gz"), overwrite=True)}


class SaveLabelPngd(CaseWriterd):
    """``<id>_seg.png`` for picture inputs (PNG/JPEG/...): the label map with the picture's rows and columns."""

    def __init__(
        self, keys: Any = "pred", image_key: str = "original_image", kinds: Sequence[str] = ("raster",), enabled=True
    ):
        super().__init__(keys, image_key, enabled)
        self.kinds = tuple(kinds)

    def write(self, d, key, case):
        if case.get("kind") not in self.kinds:
            return {}
        label, _, _ = label_and_affine(d, key, self.image_key)
        return {"png": save_label_png(label, case_output_path(case, "_seg.png"), overwrite=True)}


class SaveDicomSegd(CaseWriterd):
    """``<id>_seg.dcm``: a DICOM SEG over the source series, for 3D DICOM inputs.

    The source slices are the reader's ``source_files`` meta data (slice order), so the series is not grouped
    again; their headers come from the header cache (see :func:`cranialseg.io.dicom_files.read_dicom_header`).

    Args:
        class_names: label names, index 0 the background.
        enabled: the ``write_dicom_seg`` option.
    """

    option_name = "write_dicom_seg"

    def __init__(
        self, keys: Any = "pred", image_key: str = "original_image", class_names: Sequence[str] = (), enabled=True
    ):
        super().__init__(keys, image_key, enabled)
        self.class_names = list(class_names)

    def write(self, d, key, case):
        if case.get("kind") != "dicom-series":
            return {}
        label, affine, spatial_dims = label_and_affine(d, key, self.image_key)
        if spatial_dims != 3:
            return {}
        from cranialseg.workflows.dicom_seg import write_dicom_seg

        original = d.get(self.image_key)
        files = list((getattr(original, "meta", {}) or {}).get("source_files") or case.get("files") or [])
        path = case_output_path(case, "_seg.dcm")
        return {"dicom_seg": write_dicom_seg(label, affine, files, path, self.class_names, overwrite=True)}


class SaveVolumesd(CaseWriterd):
    """``<id>_volumes.json``: per-class voxels and mL (mm² in 2D), image-level probabilities, and the source.

    Args:
        class_names: label names, index 0 the background.
        image_class_names: names of the image-level head's outputs; with ``d[presence_key]`` (probabilities after
            the post-processing's sigmoid) they become ``image_level`` ``{name: probability}``.
        presence_key: where the post-processing left the image-level probabilities.
    """

    def __init__(
        self,
        keys: Any = "pred",
        image_key: str = "original_image",
        class_names: Sequence[str] = (),
        image_class_names: Sequence[str] = (),
        presence_key: str = "presence_logits",
        enabled=True,
    ):
        super().__init__(keys, image_key, enabled)
        self.class_names = list(class_names)
        self.image_class_names = [str(n) for n in image_class_names]
        self.presence_key = presence_key

    def write(self, d, key, case):
        label, affine, _ = label_and_affine(d, key, self.image_key)
        doc: dict[str, Any] = {
            "case": case["id"],
            "source": case["source"],
            "classes": class_volumes(label, affine, self.class_names),
        }
        if self.image_class_names and self.presence_key in d:
            probs = [float(p) for p in np.asarray(to_numpy(d[self.presence_key])).reshape(-1)]
            if len(probs) != len(self.image_class_names):
                raise ValueError(
                    f"the network's image head has {len(probs)} outputs but image_class_names lists "
                    f"{len(self.image_class_names)}: {self.image_class_names}"
                )
            d["image_level"] = doc["image_level"] = {n: round(p, 4) for n, p in zip(self.image_class_names, probs)}
        d["volumes"] = doc["classes"]  # the engine copies it into the completion record and run_summary.json
        return {"volumes": write_json(case_output_path(case, "_volumes.json"), doc, overwrite=True)}


class SaveOverlayd(CaseWriterd):
    """``<id>_overlay.png``: the input (axial slice with most foreground in 3D) with the predicted contours."""

    option_name = "write_overlay"

    def write(self, d, key, case):
        label, _, _ = label_and_affine(d, key, self.image_key)
        image = d.get(self.image_key, d.get("image"))
        return {"overlay": save_overlay_png(image, label, case_output_path(case, "_overlay.png"), overwrite=True)}
