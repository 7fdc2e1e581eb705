"""Per-case output writers of batch inference: dictionary transforms listed under ``writers`` in inference.json.

Each writer reads the post-processed case dict (``pred``: the label map on the input grid, ``original_image``: the
input kept by ``CopyItemsd``, ``case``: the case's id, source, kind and output folder) and writes one kind of output
atomically, recording its path in ``d["outputs"]``. Every output name is ``<case id><suffix>`` inside the output
folder, checked after resolving (no name from a file or a DICOM attribute can leave the folder). A bundle adds its
own outputs by appending a writer (any callable ``d -> d``) to the list; :class:`CaseWriterd` is the base to reuse.

The fetal-head bundle adds :class:`SaveHeadMeasurementsd` (on the label map on the input's grid: fits the head ellipse,
:func:`cranialseg.metrics.ellipse.fit_head_ellipse`, and writes ``<case>_measurements.json`` and ``<case>_overlay.png``;
no head found: the JSON says so, no ellipse) and, after the batch, :func:`write_hc18_csv`, which collects the JSONs
into ``hc18_ellipses.csv``, the HC18 challenge's submission format
``filename,center_x_mm,center_y_mm,semi_axes_a_mm,semi_axes_b_mm,angle_rad``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform

from cranialseg.io.label_files import save_label_nifti, save_label_png, to_numpy
from cranialseg.io.overlays import save_overlay_png
from cranialseg.metrics.ellipse import ELLIPSE_KEYS
from cranialseg.metrics.fetal_head import check_outline_offset, head_measurements, head_outline_offset_mm
from cranialseg.metrics.volumes import class_volumes
from cranialseg.utils.atomic import atomic_write, write_json
from cranialseg.utils.options import as_bool, path_inside, safe_name
from cranialseg.utils.spatial import is_2d

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
    "HC18_CSV_HEADER",
    "SaveHeadMeasurementsd",
    "write_hc18_csv",
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
        from cranialseg.io.dicom_seg import write_dicom_seg

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


logger = logging.getLogger(__name__)


#: Columns of the HC18 challenge submission file.
HC18_CSV_HEADER = ("filename", "center_x_mm", "center_y_mm", "semi_axes_a_mm", "semi_axes_b_mm", "angle_rad")


class SaveHeadMeasurementsd(CaseWriterd):
    """Batch-inference writer: ``<id>_measurements.json`` and ``<id>_overlay.png`` (outline and fitted ellipse).

    Listed under ``writers`` in ``inference.json`` (see :mod:`cranialseg.io.writers`): ``pred`` is the label
    map on the input's grid, the spacing comes from the kept input's affine (``original_image``, calibrated by
    :class:`PixelSpacingd`); a frame without a pixel size (``meta["spacing_units"] == "pixel"``) is measured in
    pixels. Outputs are written atomically inside the case's output folder.

    Args:
        keys: the label-map key (``"pred"``).
        image_key: the input kept by ``CopyItemsd`` (grid, spacing and the overlay picture).
        write_overlay: write the overlay PNG (with the fitted ellipse).
        outline_offset: how far the network's head outline lies outside the ellipse to measure, in pixels of
            ``network_size`` (the training masks' filled annotation line; HC18: 0.659 of 384 x 256, 1.38 pixels
            of the 800 x 540 frame); the fitted semi-axes are shrunk by it on each frame
            (:func:`cranialseg.metrics.fetal_head.head_outline_offset_mm`). 0: measure the outline as it is.
        network_size: the grid ``(x, y)`` every frame is resized to for the network; None: ``outline_offset`` is
            in pixels of the frame.
        enabled: the writer's on/off option.
        allow_missing_keys: as in MONAI.
    """

    def __init__(
        self,
        keys: KeysCollection = "pred",
        image_key: str = "original_image",
        write_overlay: Any = True,
        outline_offset: float = 0.0,
        network_size: Sequence[int] | None = None,
        enabled: Any = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, image_key, enabled, allow_missing_keys)
        self.write_overlay = as_bool(write_overlay, "write_overlay")
        self.outline_offset, self.network_size = check_outline_offset(outline_offset, network_size)

    def write(self, d: Mapping[Hashable, Any], key: Hashable, case: Mapping[str, Any]) -> dict[str, Path]:
        from cranialseg.io.overlays import save_head_overlay

        label, affine, _ = label_and_affine(d, key, self.image_key)
        image = d.get(self.image_key)
        meta = dict(getattr(image, "meta", None) or getattr(d[key], "meta", None) or {})
        units = str(meta.get("spacing_units", "mm"))
        spacing = [float(v) for v in np.linalg.norm(affine[:-1, :2], axis=0)]
        frame = np.squeeze(to_numpy(label)).shape  # (x, y) of the frame
        offset = head_outline_offset_mm(
            frame, spacing if units == "mm" else (1.0, 1.0), self.outline_offset, self.network_size
        )
        source = case.get("source", "")
        source = source[0] if isinstance(source, (list, tuple)) and source else source
        doc = {
            "case": case.get("id"),
            "source": Path(str(source)).name,
            "spacing_source": str(meta.get("spacing_source", "")),
            **head_measurements(label, spacing, units, offset),
        }
        d[f"{key}_measurements"] = doc  # type: ignore[index]
        out = {"measurements": write_json(case_output_path(case, "_measurements.json"), doc, overwrite=True)}
        if self.write_overlay:
            ellipse = None
            if doc["head_found"]:
                suffix = "_mm" if units == "mm" else "_px"
                ellipse = {k: doc["ellipse"][k.replace("_mm", suffix)] for k in ELLIPSE_KEYS}
            picture = image if image is not None else d.get("image", d[key])
            out["overlay"] = save_head_overlay(
                picture,
                label,
                case_output_path(case, "_overlay.png"),
                spacing=spacing if units == "mm" else (1.0, 1.0),
                ellipse=ellipse,
            )
        return out


def write_hc18_csv(output_dir: str | Path, name: str = "hc18_ellipses.csv") -> dict:
    """Collect ``*_measurements.json`` in ``output_dir`` into the HC18 submission CSV and a summary JSON.

    Rows (sorted by file name) are the images with a head measured in mm; images without a head or without a
    pixel spacing are left out of the CSV and listed in ``<name stem>_summary.json`` (``no_head``,
    ``no_spacing``).

    Returns:
        the summary ``{"csv", "rows", "no_head", "no_spacing"}``.
    """
    output_dir = Path(output_dir)
    rows, no_head, no_spacing = [], [], []
    for path in sorted(output_dir.glob("*_measurements.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        filename = doc.get("source") or doc.get("case")
        if not doc.get("head_found"):
            no_head.append(filename)
        elif doc.get("units") != "mm":
            no_spacing.append(filename)
        else:
            e = doc["ellipse"]
            rows.append([filename] + [e[k] for k in ELLIPSE_KEYS])
    rows.sort(key=lambda r: r[0])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HC18_CSV_HEADER)
    writer.writerows(rows)
    text = buf.getvalue()
    csv_path = atomic_write(output_dir / name, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=True)
    summary = {"csv": str(csv_path), "rows": len(rows), "no_head": no_head, "no_spacing": no_spacing}
    write_json(output_dir / f"{Path(name).stem}_summary.json", summary, overwrite=True)
    if no_head or no_spacing:
        logger.warning(f"{csv_path}: {len(no_head)} image(s) without a head, {len(no_spacing)} without pixel spacing")
    return summary
