"""Shared helpers of the benchmark scripts: machine/version record, timing, peak memory, FLOPs, matmul peak.

Not part of the installed package: the scripts beside it import it as ``benchmarking`` (Python puts a script's
own folder first on ``sys.path``). Every benchmark script under ``scripts/benchmark_*.py`` writes one JSON file
under ``benchmarks/results/`` with the same ``"machine"`` block (:func:`machine_info`: date, CPU, threads, load
average, library versions, git commit), so that readers can judge how comparable two results are. Timings are
medians after warm-up (:func:`time_call`); CPU peak memory is the resident-set high-water mark of this process,
reset before each measurement through ``/proc/self/clear_refs`` (:class:`PeakRSS`, Linux; ``None`` elsewhere);
FLOPs are counted by ``torch.utils.flop_counter`` (matmuls and convolutions, not element-wise work:
:func:`count_flops`).

Example:
    >>> import torch
    >>> net = torch.nn.Conv2d(1, 4, 3, padding=1)
    >>> x = torch.rand(1, 1, 32, 32)
    >>> count_flops(net, x)  # 2 * 9 multiply-adds * 4 outputs * 1024 pixels
    73728
    >>> with PeakRSS() as mem:
    ...     _ = net(x)
    >>> mem.delta_mb is None or mem.delta_mb >= 0
    True
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import torch

from cranialseg.utils.atomic import write_json

__all__ = [
    "HC18_ANCHORS",
    "HC18_DIR",
    "PeakRSS",
    "RESULTS_DIR",
    "bundle_workflow",
    "count_flops",
    "count_parameters",
    "lean_input_stride",
    "load_average",
    "machine_info",
    "matmul_peak_gflops",
    "read_proc_status_mb",
    "time_call",
    "publish_results",
    "write_results",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Default folder of the committed benchmark results.
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
#: The original HC18 folder (PNGs, annotations, CSV) in the shared data next to the checkout, where there is one.
HC18_DIR = REPO_ROOT.parent / "shared" / "data" / "hc18_fetal_head_us"
#: The published HC18 figures the quality tables are read against.
HC18_ANCHORS = (
    "HC18 challenge (van den Heuvel et al., PLoS ONE 2018; full-resolution images, large budgets): Dice about "
    "0.97-0.98, HC mean absolute difference about 1.7-2.5 mm."
)

_PACKAGES = ("torch", "monai", "numpy", "onnx", "onnxruntime", "onnxscript", "pydicom", "nibabel", "cranialseg")


def load_average() -> Optional[list]:
    """The 1-, 5- and 15-minute load averages (``os.getloadavg``), rounded; ``None`` where unsupported."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb() -> Optional[float]:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git_commit() -> Optional[str]:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _versions() -> Dict[str, Optional[str]]:
    versions: Dict[str, Optional[str]] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_info() -> Dict[str, Any]:
    """Date (UTC), machine, torch threads, load average, GPU (if any), library versions and git commit."""
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "memory_gb": _mem_total_gb(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": load_average(),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }


def read_proc_status_mb(field: str = "VmRSS") -> Optional[float]:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``...) in MiB; ``None`` off Linux."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _malloc_trim() -> None:
    """Return free heap memory to the OS (glibc ``malloc_trim``); a no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """Context manager measuring the peak resident memory of this process during the block (Linux).

    On entry freed heap memory is returned to the OS (glibc ``malloc_trim``, else allocations kept from earlier
    calls would hide the block's own), the kernel's high-water mark is reset (``echo 5 > /proc/self/clear_refs``)
    and the current RSS recorded; on exit ``peak_mb`` is the high-water mark and ``delta_mb`` the growth over the
    RSS at entry (the block's working memory). Both are ``None`` where ``/proc`` is missing or the reset is refused.

    Example:
        >>> with PeakRSS() as mem:
        ...     buf = bytearray(50 * 2**20)
        >>> mem.delta_mb is None or mem.delta_mb > 40
        True
    """

    def __init__(self) -> None:
        self.start_mb: Optional[float] = None
        self.peak_mb: Optional[float] = None
        self.delta_mb: Optional[float] = None
        self._ok = False

    def __enter__(self) -> PeakRSS:
        _malloc_trim()  # hand freed heap pages back first, so the starting RSS is the live set
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            self._ok = True
        except OSError:
            self._ok = False
        self.start_mb = read_proc_status_mb("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._ok or self.start_mb is None:
            return
        self.peak_mb = read_proc_status_mb("VmHWM")
        if self.peak_mb is not None:
            self.delta_mb = round(max(0.0, self.peak_mb - self.start_mb), 1)
            self.peak_mb = round(self.peak_mb, 1)


def time_call(
    fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 5, max_seconds: Optional[float] = None
) -> Dict[str, Any]:
    """Median wall time of ``fn()`` after ``warmup`` untimed calls.

    Args:
        fn: the call to time (synchronise the GPU inside it when timing CUDA work).
        warmup: untimed calls first (allocator, one-off compilation, caches).
        repeats: timed calls; fewer are made once ``max_seconds`` of timed calls have been spent (at least one).
        max_seconds: budget for the timed calls.

    Returns:
        ``{"median_s", "min_s", "max_s", "repeats", "times_s"}``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}.")
    for _ in range(max(0, warmup)):
        fn()
    times = []
    spent = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if max_seconds is not None and spent >= max_seconds:
            break
    return {
        "median_s": round(statistics.median(times), 5),
        "min_s": round(min(times), 5),
        "max_s": round(max(times), 5),
        "repeats": len(times),
        "times_s": [round(t, 5) for t in times],
    }


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def count_flops(module: Callable[..., Any], *inputs: torch.Tensor) -> int:
    """FLOPs of one no-grad call ``module(*inputs)`` counted by ``torch.utils.flop_counter.FlopCounterMode``.

    Counts matmuls, convolutions, transposed convolutions and attention (2 FLOPs per multiply-add); element-wise
    work (norms, activations, softmax) is not counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*inputs)
    return int(counter.get_total_flops())


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> Dict[str, Any]:
    """The machine's measured fp32 matmul rate (GFLOP/s, current torch threads): the median of ``repeats`` runs."""
    a = torch.rand(n, n)
    b = torch.rand(n, n)
    timing = time_call(lambda: torch.mm(a, b), warmup=1, repeats=repeats)
    flops = 2.0 * n**3
    return {
        "n": n,
        "threads": torch.get_num_threads(),
        "median_gflops": round(flops / timing["median_s"] / 1e9, 2),
        "best_gflops": round(flops / timing["min_s"] / 1e9, 2),
    }


def write_results(path: os.PathLike | str, payload: Dict[str, Any]) -> Path:
    """Write ``payload`` as JSON to ``path`` (folders created, an earlier result replaced atomically)."""
    return write_json(path, payload, overwrite=True)


def bundle_workflow(bundle: os.PathLike | str, *configs: str, **overrides: Any) -> Any:
    """MONAI ``ConfigWorkflow`` of ``bundle``'s ``configs/<configs>`` (later files update earlier ones) with its
    ``metadata.json``; ``overrides`` are the workflow's keyword arguments (``workflow_type``, ``logging_file`` and
    config ids such as ``max_epochs``)."""
    from monai.bundle import ConfigWorkflow

    folder = Path(bundle) / "configs"
    files = [str(folder / name) for name in configs]
    return ConfigWorkflow(
        config_file=files[0] if len(files) == 1 else files, meta_file=str(folder / "metadata.json"), **overrides
    )


def lean_input_stride(spatial_dims: int) -> list:
    """``DAResUNet(input_stride=...)`` of the benchmarks' lean setting: 2 in-plane, 1 through the slices in 3D
    (thick CT slices keep their resolution), e.g. ``[2, 2, 1]``."""
    return [2, 2] + [1] * (spatial_dims - 2)


def publish_results(
    path: os.PathLike | str, payload: Dict[str, Any], render: Callable[[Dict[str, Any]], str]
) -> Dict[str, Any]:
    """Write ``payload`` (:func:`write_results`), print its markdown table and where it went; returns ``payload``.

    ``render`` is one of ``update_benchmark_tables.render_*``; without the ``bench`` extra (pandas, tabulate) the
    table is skipped with a note, the JSON result is written all the same.
    """
    target = write_results(path, payload)
    try:
        print(render(payload))
    except ImportError as err:
        print(f"table not rendered ({err}); pip install -e '.[bench]' for it")
    print(f"wrote {target}")
    return payload
