"""Case-by-case batch inference over an input folder: DICOM series folders, NIfTI volumes, PNG/JPEG frames."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cranialseg.workflows.amp import amp_autocast
from cranialseg.workflows.heads import infer_with_image_head
from cranialseg.workflows.modality import ModalityMismatchError
from cranialseg.workflows.outputs import (
    class_volumes,
    save_label_nifti,
    save_label_png,
    save_overlay_png,
    to_numpy,
    write_json,
)

__all__ = ["Case", "discover_input_cases", "root_error", "load_network", "BatchInference"]

logger = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
OUTPUT_MARKERS = ("_seg.", "_overlay.", "_volumes.", "run_summary")


@dataclass
class Case:
    """One input case: a name for its outputs, the path given to the loader, and its kind."""

    name: str
    source: Any  # a path, or the list of a DICOM series' files
    kind: str  # "dicom" | "nifti" | "picture" | "invalid"
    extra: dict = field(default_factory=dict)


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    if path.suffix:
        return False
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def _strip_suffix(name: str) -> str:
    for suffix in (".nii.gz", ".nii", *PICTURE_SUFFIXES, ".dcm", ".dicom"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def discover_input_cases(input_dir: str | Path) -> list[Case]:
    """List the cases in ``input_dir`` (or the single file ``input_dir``).

    Every NIfTI file and every PNG/JPEG picture is a case; every folder holding DICOM files is one case (the
    DICOM reader groups and sorts its series), and loose DICOM files directly in ``input_dir`` are each a case.
    Files that look like outputs of this workflow (``*_seg.*``, ``*_overlay.*``) are ignored. When
    :func:`cranialseg.io.discover_cases` exists it is used instead, so both agree.

    Example:
        >>> import tempfile
        >>> discover_input_cases(tempfile.mkdtemp())
        []
    """
    root = Path(input_dir)
    if not root.exists():
        raise FileNotFoundError(
            f"input_dir '{input_dir}' does not exist (expected a folder of DICOM series, NIfTI or PNG/JPEG files)"
        )
    try:
        from cranialseg.io import discover_cases as _io_discover  # type: ignore[attr-defined]
    except ImportError:
        _io_discover = None
    if _io_discover is not None and root.is_dir():
        found = _io_discover(root)
        items, problems = found if isinstance(found, tuple) else (found, [])
        cases = [_case_from_io(item) for item in items]
        for path, reason in problems:
            if "empty folder" not in reason and not any(m in Path(path).name for m in OUTPUT_MARKERS):
                cases.append(Case(_strip_suffix(Path(path).name), str(path), "invalid", {"problem": reason}))
        return [c for c in cases if not any(m in Path(str(c.source)).name for m in OUTPUT_MARKERS)]
    if root.is_file():
        return [_case_for_file(root)] if _case_for_file(root) else []
    cases: list[Case] = []
    dicom_dirs: set[Path] = set()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or any(m in path.name for m in OUTPUT_MARKERS):
            continue
        lower = path.name.lower()
        if lower.endswith(NIFTI_SUFFIXES) or lower.endswith(PICTURE_SUFFIXES):
            case = _case_for_file(path)
            if case is not None:
                cases.append(case)
        elif _is_dicom(path):
            if path.parent == root:
                cases.append(Case(_strip_suffix(path.name), str(path), "dicom"))
            else:
                dicom_dirs.add(path.parent)
    for folder in sorted(dicom_dirs):
        name = "_".join(folder.relative_to(root).parts)
        cases.append(Case(name, str(folder), "dicom"))
    return sorted(cases, key=lambda c: c.name)


def _case_for_file(path: Path) -> Case | None:
    lower = path.name.lower()
    if lower.endswith(NIFTI_SUFFIXES):
        return Case(_strip_suffix(path.name), str(path), "nifti")
    if lower.endswith(PICTURE_SUFFIXES):
        return Case(_strip_suffix(path.name), str(path), "picture")
    if _is_dicom(path):
        return Case(_strip_suffix(path.name), str(path), "dicom")
    return None


def _case_from_io(item: Any) -> Case:
    """Adapt a :class:`cranialseg.io.Case` (``case_id``, ``image``, ``kind``, ``modality``, ...) to a :class:`Case`."""
    get = item.get if isinstance(item, dict) else lambda k, default=None: getattr(item, k, default)
    source = get("image")
    kind = {"dicom-series": "dicom", "dicom-image": "dicom", "nifti": "nifti", "raster": "picture"}.get(
        str(get("kind")), "dicom"
    )
    extra = {k: get(k) for k in ("series_uid", "modality", "spatial_dims") if get(k)}
    return Case(str(get("case_id")), source, kind, extra)


def root_error(error: BaseException) -> BaseException:
    """The original exception behind MONAI's ``RuntimeError("applying transform ...")`` wrappers.

    Example:
        >>> try:
        ...     raise RuntimeError("applying transform x") from KeyError("k")
        ... except RuntimeError as e:
        ...     type(root_error(e)).__name__
        'KeyError'
    """
    seen = set()
    while (
        isinstance(error, RuntimeError)
        and "applying transform" in str(error)
        and error.__cause__ is not None
        and id(error) not in seen
    ):
        seen.add(id(error))
        error = error.__cause__
    return error


def load_network(network: torch.nn.Module, checkpoint: str | Path | None, device: Any = "cpu") -> torch.nn.Module:
    """Move ``network`` to ``device``, load a plain state_dict (``weights_only=True``), switch to eval mode.

    A checkpoint saved as ``{"network": state_dict, ...}`` (a training checkpoint) is accepted too.

    Example:
        >>> net = load_network(torch.nn.Linear(2, 2), None)
        >>> net.training
        False
    """
    network = network.to(device)
    if checkpoint:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} not found (train the bundle or pass --checkpoint <file>)")
        state = torch.load(path, map_location=device, weights_only=True)
        if isinstance(state, dict) and "network" in state and isinstance(state["network"], dict):
            state = state["network"]
        network.load_state_dict(state)
    return network.eval()


class BatchInference:
    """Run a bundle's pre-processing, inferer and post-processing case by case over a folder and write outputs.

    For each case this writes, atomically (temporary file in the output folder, then ``os.replace``):
    ``<case>_seg.nii.gz`` (label map with the input's affine and shape, via ``Invertd`` in the post-processing),
    ``<case>_seg.dcm`` for DICOM input (a highdicom SEG referencing the source series), ``<case>_seg.png`` for 2D
    input, ``<case>_volumes.json`` (per-class voxels and mL, or mm² for 2D) and ``<case>_overlay.png``. A case
    whose outputs exist is skipped unless ``overwrite``; inputs are never written. A failing case is logged,
    recorded in ``run_summary.json`` (``failures``) and skipped. If every case failed because of a modality or
    dimension mismatch the run stops with that message (it names the bundle to use).

    Args:
        input_dir: folder (or one file) of DICOM series, NIfTI volumes or PNG/JPEG frames.
        output_dir: where outputs go (created).
        network: the network (or an ONNX Runtime wrapper) called by ``inferer``.
        preprocessing: callable on ``{"image": path}`` returning the network-ready dict (loads the image).
        inferer: MONAI inferer, ``inferer(inputs, network)``.
        postprocessing: callable on the dict with ``pred`` added (Invertd, argmax, ...).
        class_names: label names, index 0 the background.
        loader: callable on ``{"image": path}`` giving the original channel-first image (for overlays/checks).
        device: device of the network input.
        overwrite: replace existing outputs.
        write_dicom_seg: write a DICOM SEG for DICOM inputs.
        amp: autocast on CUDA.
        amp_dtype: the autocast dtype (``torch.bfloat16``/``torch.float16``, see
            :func:`cranialseg.workflows.amp_dtype`); ``None`` is torch's default (float16 on CUDA).
        image_class_names: names of the network's image-level outputs (e.g. the lesion types); when given and the
            network has an image-level head, each case's JSON gets ``image_level`` probabilities (the maximum over
            the sliding windows, see :func:`cranialseg.workflows.infer_with_image_head`).
        image_key / pred_key: dictionary keys.

    Example:
        ``"run": ["$@batch_inference.run()"]`` in ``inference.json``; see the bundle README.
    """

    def __init__(
        self,
        input_dir: str | Path,
        output_dir: str | Path,
        *,
        network: Callable,
        preprocessing: Callable,
        inferer: Callable,
        postprocessing: Callable,
        class_names: Sequence[str],
        loader: Callable | None = None,
        device: Any = "cpu",
        overwrite: bool = False,
        write_dicom_seg: bool = True,
        write_overlay: bool = True,
        amp: bool = False,
        amp_dtype: Any = None,
        image_class_names: Sequence[str] | None = None,
        image_key: str = "image",
        pred_key: str = "pred",
        summary_name: str = "run_summary.json",
    ) -> None:
        self.input_dir = Path(input_dir)
        self.output_dir = Path(output_dir)
        self.network = network
        self.preprocessing = preprocessing
        self.inferer = inferer
        self.postprocessing = postprocessing
        self.class_names = list(class_names)
        self.loader = loader
        self.device = torch.device(device) if isinstance(device, str) else device
        self.overwrite = bool(overwrite)
        self.write_dicom_seg = bool(write_dicom_seg)
        self.write_overlay = bool(write_overlay)
        self.amp = bool(amp)
        self.amp_dtype = amp_dtype
        self.image_class_names = None if image_class_names is None else [str(n) for n in image_class_names]
        self.image_key = image_key
        self.pred_key = pred_key
        self.summary_name = summary_name

    def output_paths(self, case: Case, spatial_dims: int | None = None) -> dict[str, Path]:
        out = {
            "nifti": self.output_dir / f"{case.name}_seg.nii.gz",
            "volumes": self.output_dir / f"{case.name}_volumes.json",
        }
        if self.write_overlay:
            out["overlay"] = self.output_dir / f"{case.name}_overlay.png"
        if case.kind == "dicom" and self.write_dicom_seg and spatial_dims != 2:
            out["dicom_seg"] = self.output_dir / f"{case.name}_seg.dcm"
        if case.kind == "picture":
            out["png"] = self.output_dir / f"{case.name}_seg.png"
        return out

    def predict(self, source: str) -> tuple[dict, Any]:
        """Pre-process, infer and post-process one input; returns the post-processed dict and the label map.

        The image-level probabilities, when the network has that head and ``image_class_names`` are set, are in
        the dict under ``"image_level"`` (name -> probability).
        """
        data = self.preprocessing({self.image_key: source})
        if isinstance(data, list):  # a pre-processing that returns a list (e.g. crops) is not supported here
            raise ValueError(f"{source}: the pre-processing returned {len(data)} samples; expected one dict")
        inputs = data[self.image_key].unsqueeze(0).to(self.device)
        image_level = None
        with torch.no_grad(), amp_autocast(self.device, self.amp, self.amp_dtype):
            if self.image_class_names:
                logits = infer_with_image_head(self.inferer, inputs, self.network)
            else:
                logits = self.inferer(inputs, self.network)
        if isinstance(logits, dict):
            probs = torch.sigmoid(logits["image"][0].float()).tolist()
            if len(probs) != len(self.image_class_names or []):
                raise ValueError(
                    f"the network's image head has {len(probs)} outputs but image_class_names lists "
                    f"{len(self.image_class_names or [])}: {self.image_class_names}"
                )
            image_level = {name: round(p, 4) for name, p in zip(self.image_class_names or [], probs)}
            logits = logits["seg"]
        pred = logits[0].float()
        if hasattr(data[self.image_key], "meta"):
            from monai.data import MetaTensor

            pred = MetaTensor(pred.cpu(), meta=dict(data[self.image_key].meta))
        data[self.pred_key] = pred
        out = self.postprocessing(data)
        if image_level is not None:
            out["image_level"] = image_level
        return out, out[self.pred_key]

    def run_case(self, case: Case) -> dict:
        start = time.perf_counter()
        if case.kind == "invalid":
            raise ValueError(f"{case.source}: {case.extra.get('problem', 'not a usable input')}")
        sources = case.source if isinstance(case.source, (list, tuple)) else [case.source]
        resolved = {Path(s).resolve() for s in sources}
        for path in self.output_paths(case).values():
            if path.resolve() in resolved:
                raise ValueError(f"{path}: an output would overwrite the input; choose another output_dir")
        out, pred = self.predict(case.source)
        label = to_numpy(pred)
        label = label[None] if label.ndim == len(getattr(pred, "shape", label.shape)) - 1 else label
        affine = to_numpy(getattr(pred, "affine", np.eye(4)))
        original = self.loader({self.image_key: case.source})[self.image_key] if self.loader else None
        if original is not None and tuple(original.shape[1:]) != tuple(label.shape[1:]):
            raise RuntimeError(
                f"{case.source}: prediction shape {tuple(label.shape[1:])} differs from the input's "
                f"{tuple(original.shape[1:])}; the post-processing must invert the spatial pre-processing (Invertd)"
            )
        if original is not None and hasattr(original, "affine"):
            affine = to_numpy(original.affine)
        spatial_dims = 2 if label.ndim == 3 or (label.ndim == 4 and label.shape[-1] == 1) else 3
        paths = self.output_paths(case, spatial_dims)
        written: dict[str, str] = {}
        written["nifti"] = str(save_label_nifti(label, affine, paths["nifti"], overwrite=self.overwrite))
        if "png" in paths:
            written["png"] = str(save_label_png(label, paths["png"], overwrite=self.overwrite))
        if "dicom_seg" in paths:
            from cranialseg.workflows.dicom_seg import write_dicom_seg

            written["dicom_seg"] = str(
                write_dicom_seg(
                    label,
                    affine,
                    case.source,
                    paths["dicom_seg"],
                    self.class_names,
                    series_uid=case.extra.get("series_uid"),
                    overwrite=self.overwrite,
                )
            )
        volumes = class_volumes(label, affine, self.class_names)
        volumes_doc: dict[str, Any] = {"case": case.name, "source": case.source, "classes": volumes}
        if "image_level" in out:
            volumes_doc["image_level"] = out["image_level"]
        written["volumes"] = str(write_json(paths["volumes"], volumes_doc, overwrite=self.overwrite))
        if "overlay" in paths:
            image = original if original is not None else out[self.image_key]
            written["overlay"] = str(save_overlay_png(image, label, paths["overlay"], overwrite=self.overwrite))
        return {
            "name": case.name,
            "source": case.source,
            "kind": case.kind,
            "shape": list(label.shape[1:]),
            "outputs": written,
            "volumes": volumes,
            **({"image_level": out["image_level"]} if "image_level" in out else {}),
            "seconds": round(time.perf_counter() - start, 3),
        }

    def run(self) -> dict:
        """Process every case; returns (and writes) the run summary."""
        cases = discover_input_cases(self.input_dir)
        if not cases:
            raise FileNotFoundError(f"no DICOM series, NIfTI or PNG/JPEG files found in input_dir '{self.input_dir}'")
        if hasattr(self.network, "eval"):
            self.network.eval()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        done, failures, skipped, mismatches = [], [], [], []
        for case in cases:
            paths = self.output_paths(case)
            existing = [str(p) for p in paths.values() if p.exists()]
            if existing and not self.overwrite:
                logger.warning(f"{case.source}: outputs exist ({existing[0]} ...); skipped (set overwrite=True)")
                skipped.append({"name": case.name, "source": case.source, "reason": "outputs exist"})
                continue
            try:
                result = self.run_case(case)
            except Exception as wrapped:  # a bad case is reported and skipped
                e = root_error(wrapped)
                logger.error(f"case {case.name} ({case.source}) failed: {e}")
                failures.append(
                    {
                        "name": case.name,
                        "source": case.source,
                        "error": f"{type(e).__name__}: {e}",
                        "traceback": traceback.format_exc(limit=3),
                    }
                )
                if isinstance(e, ModalityMismatchError):
                    mismatches.append(e)
                continue
            logger.info(f"case {case.name}: {result['outputs']['nifti']} ({result['seconds']} s)")
            done.append(result)
        summary = {
            "input_dir": str(self.input_dir),
            "output_dir": str(self.output_dir),
            "num_cases": len(cases),
            "num_succeeded": len(done),
            "num_failed": len(failures),
            "num_skipped": len(skipped),
            "cases": done,
            "failures": failures,
            "skipped": skipped,
        }
        write_json(self.output_dir / self.summary_name, summary, overwrite=True)
        if mismatches and len(mismatches) == len(cases):
            raise mismatches[0]
        return summary
