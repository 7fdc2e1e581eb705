"""Batch inference over an input folder: one discovery, MONAI pre/post-processing, per-case writers, a summary.

Why a thin loop and not a MONAI ``SupervisedEvaluator``: an ignite engine stops the whole run at the first exception
(its ``EXCEPTION_RAISED`` handler can only log or re-raise), and its ``DataLoader`` collates cases of different
sizes and kinds; batch inference must isolate every case (one bad file never aborts the batch), record each
failure, and write a completion record only after all of a case's outputs. So the loop here is ten lines of
control around MONAI parts that the bundle config assembles: ``LoadCranialImaged`` and the transforms
(``preprocessing``), the ``inferer``, ``Invertd`` and ``AsDiscreted`` (``postprocessing``) and the ``writers``
(dictionary transforms, one per output kind; a bundle appends its own).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from cranialseg.data.screening import root_error
from cranialseg.io import Case, discover_cases
from cranialseg.io.discover import safe_case_id
from cranialseg.io.writers import CASE_KEY, OUTPUTS_KEY
from cranialseg.transforms.modality import ModalityMismatchError
from cranialseg.utils.amp import amp_autocast
from cranialseg.utils.atomic import write_json
from cranialseg.utils.options import as_bool, path_inside, safe_name

__all__ = [
    "BatchFailedError",
    "BatchInference",
    "DONE_SUFFIX",
]

logger = logging.getLogger(__name__)

#: the per-case completion record, written after all of the case's outputs
DONE_SUFFIX = "_done.json"
#: problems of discovery that are reported but are not failures: files that are not inputs to segment
_IGNORED_PROBLEMS = (
    "not an image file",
    "inside the output folder",
    "empty folder",
    "not an image to segment",
    "DICOMDIR",
)


class BatchFailedError(RuntimeError):
    """Some cases failed; raised after ``run_summary.json`` is written so that the process exits non-zero."""


def _problem_id(path: str, root: Path) -> str:
    try:
        rel = os.path.relpath(path, root if root.is_dir() else root.parent)
    except ValueError:
        rel = os.path.basename(path)
    return safe_case_id(rel)


class BatchInference:
    """Run a bundle's pre-processing, inferer, post-processing and writers case by case over a folder.

    Cases come from :func:`cranialseg.io.discover_cases` (one per DICOM series, DICOM image, NIfTI or picture; ids
    unique, stable and file-name safe). For each case the writers (see :mod:`cranialseg.io.writers`) write
    ``<case>_seg.nii.gz``, ``<case>_seg.dcm`` (3D DICOM), ``<case>_seg.png`` (pictures), ``<case>_volumes.json``,
    ``<case>_overlay.png`` atomically, and then ``<case>_done.json`` (the completion record: source, outputs). A
    case with a valid completion record is skipped unless ``overwrite``; a case without one (killed run, full
    disk, failed SEG) is done again. Outputs never leave ``output_dir`` and never replace an input.

    Every per-case exception (discovery included) is a reported failure; the batch goes on. ``run_summary.json``
    holds this run and the ``history`` of earlier runs. When any case failed, :class:`BatchFailedError` is raised
    after the summary is written (``fail_on_error``), so ``python -m monai.bundle run`` exits with status 1; when
    every case failed for a modality/dimension mismatch the :class:`ModalityMismatchError` (naming the right
    bundle) is raised instead. An output folder that cannot be written or has less than ``min_free_mb`` free is
    refused before any inference.

    With ``world_size > 1`` (``torchrun``), rank ``r`` takes cases ``r, r + world_size, ...`` and writes
    ``run_summary.rank<r>.json``; rank 0 merges them into ``run_summary.json`` after a barrier.

    Args:
        input_dir: folder (or one file) of DICOM series, NIfTI volumes or PNG/JPEG frames.
        output_dir: where outputs go (created).
        network: the network (or an ONNX Runtime wrapper) called by ``inferer``.
        preprocessing: callable on ``{"image": source}`` returning the network-ready dict; it loads the image
            (``LoadCranialImaged``) and keeps it as ``original_image`` (``CopyItemsd``) for the writers.
        inferer: MONAI inferer, ``inferer(inputs, network)``.
        postprocessing: callable on the dict with ``pred`` added (``Invertd``, ``AsDiscreted``, ...).
        writers: per-case writers, callables ``d -> d`` (dictionary transforms), run in order.
        device: device of the network input.
        overwrite: redo cases that are complete (``true/false/1/0``).
        amp: autocast on CUDA.
        amp_dtype: the autocast dtype (``torch.bfloat16``/``torch.float16``, see
            :func:`cranialseg.utils.amp_dtype`); ``None`` is torch's default (float16 on CUDA).
        fail_on_error: raise :class:`BatchFailedError` at the end when a case failed (non-zero exit status).
        model_notice: what the weights can and cannot be used for (e.g. "trained on phantoms; ..."): logged as a
            warning at the start and written into ``run_summary.json`` as ``model_notice``, so every output
            folder carries it.
        min_free_mb: refuse to start when the output folder's file system has less free space.
        rank, world_size: this process's share of the cases (default: from ``torch.distributed`` when initialised).
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
        writers: Sequence[Callable] = (),
        device: Any = "cpu",
        overwrite: Any = False,
        amp: Any = False,
        amp_dtype: Any = None,
        fail_on_error: Any = True,
        model_notice: str | None = None,
        min_free_mb: float = 100.0,
        rank: int | None = None,
        world_size: int | None = None,
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
        self.writers = list(writers)
        self.device = torch.device(device) if isinstance(device, str) else device
        self.overwrite = as_bool(overwrite, "overwrite")
        self.amp = as_bool(amp, "amp")
        self.amp_dtype = amp_dtype
        self.fail_on_error = as_bool(fail_on_error, "fail_on_error")
        self.model_notice = str(model_notice) if model_notice else None
        self.min_free_mb = float(min_free_mb)
        self.image_key = image_key
        self.pred_key = pred_key
        self.summary_name = summary_name
        dist = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.rank = int(rank) if rank is not None else (torch.distributed.get_rank() if dist else 0)
        self.world_size = (
            int(world_size) if world_size is not None else (torch.distributed.get_world_size() if dist else 1)
        )

    # ---- before inference -------------------------------------------------------------------------------------
    def check_output_dir(self) -> None:
        """Create ``output_dir`` and refuse, before any inference, a folder that cannot be written or is full."""
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            probe = self.output_dir / f".write-probe-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"0" * 4096)
            probe.unlink()
        except OSError as e:
            raise PermissionError(
                f"output_dir '{self.output_dir}' cannot be written ({type(e).__name__}: {e}); "
                "choose a writable --output_dir"
            ) from e
        free_mb = shutil.disk_usage(self.output_dir).free / 2**20
        if free_mb < self.min_free_mb:
            raise OSError(
                f"output_dir '{self.output_dir}' has {free_mb:.0f} MB free, less than "
                f"min_free_mb={self.min_free_mb:g}; free some space or choose another --output_dir"
            )

    def discover(self) -> tuple[list[Case], list[dict], list[dict]]:
        """``(cases, failures, ignored)``: the cases, unusable files that look like inputs, and other files."""
        root = self.input_dir
        if not root.exists():
            raise FileNotFoundError(
                f"input_dir '{root}' does not exist (expected a folder of DICOM series, NIfTI or PNG/JPEG files)"
            )
        cases, problems = discover_cases(root, exclude=[self.output_dir])
        failures, ignored = [], []
        for path, reason in problems:
            entry = {"name": _problem_id(path, root), "source": path}
            if any(text in reason for text in _IGNORED_PROBLEMS):
                ignored.append({**entry, "reason": reason})
            else:
                failures.append({**entry, "error": f"InputError: {path}: {reason}", "stage": "discovery"})
        return cases, failures, ignored

    # ---- one case ---------------------------------------------------------------------------------------------
    def case_info(self, case: Case) -> dict:
        return {
            "id": case.case_id,
            "source": case.image,
            "kind": case.kind,
            "files": list(case.files),
            "output_dir": str(self.output_dir),
        }

    def done_path(self, case: Case) -> Path:
        return path_inside(self.output_dir, safe_name(case.case_id) + DONE_SUFFIX)

    def is_complete(self, case: Case) -> bool:
        """True when the case's completion record exists, names this source, and all its outputs exist."""
        path = self.done_path(case)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        if record.get("source") != case.image:
            return False
        return all(Path(p).is_file() for p in record.get("outputs", {}).values())

    def predict(self, data: dict) -> dict:
        """Pre-process, infer and post-process one case dict; returns the post-processed dict.

        The inferer may return the segmentation logits or a dict of heads (``{"seg", "image"}``, e.g.
        ``SlidingWindowImageHeadInferer``); the post-processing unpacks and activates them (``UnpackHeadsd``,
        ``Activationsd``), so the choice of inferer and the sigmoid of the image-level head live in the config.
        """
        data = self.preprocessing(data)
        if isinstance(data, list):  # a pre-processing that returns a list (e.g. crops) is not supported here
            raise ValueError(f"the pre-processing returned {len(data)} samples; expected one dict")
        inputs = data[self.image_key].unsqueeze(0).to(self.device)
        with torch.no_grad(), amp_autocast(self.device, self.amp, self.amp_dtype):
            logits = self.inferer(inputs, self.network)
        heads = dict(logits) if isinstance(logits, Mapping) else {"seg": logits}
        pred = heads["seg"][0].float()
        if hasattr(data[self.image_key], "meta"):
            from monai.data import MetaTensor

            pred = MetaTensor(pred.cpu(), meta=dict(data[self.image_key].meta))
        heads = {k: (pred if k == "seg" else v[0].float().cpu()) for k, v in heads.items()}
        data[self.pred_key] = heads if len(heads) > 1 else pred
        return self.postprocessing(data)

    def run_case(self, case: Case) -> dict:
        """Infer one case and run the writers; the completion record is written last."""
        start = time.perf_counter()
        info = self.case_info(case)
        done = self.done_path(case)
        if done.exists():
            done.unlink()  # redoing the case: it is incomplete until its record is written again
        out = self.predict({self.image_key: case.image, CASE_KEY: info})
        out[CASE_KEY] = info
        for writer in self.writers:
            out = writer(out)
        outputs = dict(out.get(OUTPUTS_KEY) or {})
        inputs = {os.path.realpath(f) for f in case.files}
        for path in outputs.values():
            if os.path.realpath(path) in inputs:  # cannot happen with output_dir outside the inputs; guarded anyway
                raise RuntimeError(f"{path}: an output would replace the input; choose another output_dir")
        shape = list(out[self.pred_key].shape[1:])
        record = {
            "name": case.case_id,
            "source": case.image,
            "kind": case.kind,
            "modality": case.modality,
            "series_uid": case.series_uid,
            "shape": shape,
            "rank": self.rank,
            "outputs": outputs,
            **({"volumes": out["volumes"]} if "volumes" in out else {}),
            **({"image_level": out["image_level"]} if "image_level" in out else {}),
            "seconds": round(time.perf_counter() - start, 3),
        }
        write_json(done, record, overwrite=True)
        return record

    # ---- the batch --------------------------------------------------------------------------------------------
    def run(self) -> dict:
        """Process this rank's cases; returns (and writes) the run summary."""
        started = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.check_output_dir()
        if self.model_notice and self.rank == 0:
            logger.warning(f"model notice: {self.model_notice}")
        cases, failures, ignored = self.discover()
        if not cases and not failures:
            raise FileNotFoundError(f"no DICOM series, NIfTI or PNG/JPEG files found in input_dir '{self.input_dir}'")
        cases = cases[self.rank :: self.world_size]
        failures = failures if self.rank == 0 else []
        if hasattr(self.network, "eval"):
            self.network.eval()
        done, skipped, mismatches = [], [], []
        for case in cases:
            try:
                if not self.overwrite and self.is_complete(case):
                    logger.info(f"{case.case_id}: complete ({self.done_path(case).name}); skipped")
                    skipped.append({"name": case.case_id, "source": case.image, "reason": "complete"})
                    continue
                result = self.run_case(case)
            except Exception as wrapped:  # noqa: BLE001 - a bad case is reported, the batch goes on
                e = root_error(wrapped)
                logger.error(f"case {case.case_id} ({case.image}) failed: {e}")
                failures.append(
                    {
                        "name": case.case_id,
                        "source": case.image,
                        "error": f"{type(e).__name__}: {e}",
                        "traceback": traceback.format_exc(limit=3),
                    }
                )
                if isinstance(e, ModalityMismatchError):
                    mismatches.append(e)
                continue
            logger.info(f"case {case.case_id}: {result['outputs'].get('nifti', '')} ({result['seconds']} s)")
            done.append(result)
        summary = {
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "input_dir": str(self.input_dir),
            "output_dir": str(self.output_dir),
            "num_cases": len(cases) + len([f for f in failures if f.get("stage") == "discovery"]),
            "num_succeeded": len(done),
            "num_failed": len(failures),
            "num_skipped": len(skipped),
            "cases": done,
            "failures": failures,
            "skipped": skipped,
            "ignored": ignored if self.rank == 0 else [],
        }
        if self.model_notice:
            summary["model_notice"] = self.model_notice
        summary = self._write_summary(summary)
        if summary["num_failed"] and self.fail_on_error:
            if mismatches and len(mismatches) == summary["num_failed"] and not summary["num_succeeded"]:
                raise mismatches[0]
            listed = "; ".join(f"{f['name']}: {f['error']}" for f in summary["failures"][:3])
            raise BatchFailedError(
                f"{summary['num_failed']} of {summary['num_cases']} cases failed (details in "
                f"{self.output_dir / self.summary_name}): {listed}"
            )
        return summary

    def _write_summary(self, summary: dict) -> dict:
        """Write this rank's summary; rank 0 merges all ranks and keeps the history of earlier runs."""
        final = self.output_dir / self.summary_name
        if self.world_size > 1:
            write_json(self.output_dir / f"run_summary.rank{self.rank}.json", summary, overwrite=True)
            torch.distributed.barrier()
            if self.rank != 0:
                torch.distributed.barrier()
                return json.loads(final.read_text())
            for r in range(1, self.world_size):
                part = json.loads((self.output_dir / f"run_summary.rank{r}.json").read_text())
                for key in ("cases", "failures", "skipped"):
                    summary[key] = summary[key] + part[key]
                for key in ("num_cases", "num_succeeded", "num_failed", "num_skipped"):
                    summary[key] += part[key]
        history = []
        try:
            previous = json.loads(final.read_text())
            history = list(previous.pop("history", []))
            previous.pop("cases", None)  # per-case results live in the <case>_done.json records
            history.append(previous)
        except (OSError, ValueError):
            pass
        summary["world_size"] = self.world_size
        summary["history"] = history
        write_json(final, summary, overwrite=True)
        if self.world_size > 1:
            for r in range(self.world_size):
                (self.output_dir / f"run_summary.rank{r}.json").unlink(missing_ok=True)
            torch.distributed.barrier()
        return summary
