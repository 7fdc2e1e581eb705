"""Helpers for the MONAI Label tests: the label venv, loopback servers started and killed by PID, plain HTTP.

Everything talks to 127.0.0.1 only, with a time limit on every wait. No mocks: real MONAI Label, real Orthanc.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

__all__ = [
    "REPO",
    "CT_NAME",
    "US_NAME",
    "DEMO_SEED",
    "write_label_png",
    "prepare_app",
    "dicom_to_nifti_with_monailabel",
    "shutil_copy",
    "bundle_pipeline_labels",
    "LABEL_VENV",
    "SHIM_DIR",
    "require_label_venv",
    "free_port",
    "http",
    "multipart_body",
    "ManagedProcess",
    "start_label_server",
    "start_stock_server",
    "run_in_label_venv",
    "mean_dice",
]

REPO = Path(__file__).resolve().parents[2]
CT_NAME = "head_ct_haemorrhage_segmentation"
US_NAME = "cranial_us_ventricle_segmentation"
#: Demo cases for these tests come from seed 1; the shipped weights were trained on seed 0 cases only.
DEMO_SEED = 1
LABEL_VENV = Path(os.environ.get("CRANIALSEG_LABEL_VENV", REPO / ".venv-label"))
LOOPBACK = "127.0.0.1"
#: The project's stand-in folder (``torchvision.utils`` for MONAI Label) that the start script puts on PYTHONPATH.
SHIM_DIR = REPO / "cranialseg" / "label" / "shims"


def require_label_venv() -> Path:
    """The label venv's python; skips the test when ``scripts/setup_label_env.sh`` has not built it."""
    python = LABEL_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"MONAI Label venv not found at {LABEL_VENV}: build it with `bash scripts/setup_label_env.sh`")
    return python


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def http(
    method: str,
    url: str,
    *,
    data: Optional[bytes] = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: float = 60.0,
) -> Tuple[int, Dict[str, str], bytes]:
    """One HTTP request to a loopback server; returns ``(status, headers, body)`` for any status."""
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError(f"tests only talk to {LOOPBACK}, got url {url!r}")
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, dict(res.headers.items()), res.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def multipart_body(fields: Mapping[str, Union[str, Tuple[str, bytes, str]]]) -> Tuple[bytes, str]:
    """Encode form fields (``str``) and files (``(filename, bytes, content type)``) as multipart/form-data."""
    boundary = uuid.uuid4().hex
    out: List[bytes] = []
    for name, value in fields.items():
        out.append(f"--{boundary}\r\n".encode())
        if isinstance(value, str):
            out.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        else:
            filename, payload, ctype = value
            out.append(
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n".encode()
            )
            out.append(payload + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class ManagedProcess:
    """A server process in its own session, stopped by PID (its process group) with a bounded wait."""

    def __init__(self, cmd: Sequence[str], log_path: Path, env: Optional[Mapping[str, str]] = None, cwd=None):
        self.cmd = [str(c) for c in cmd]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )

    def log_tail(self, chars: int = 6000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace")

    def wait_http(self, url: str, timeout: float, ok=(200,)) -> None:
        """Poll ``url`` until it answers with a status in ``ok``; fail with the log tail on exit or time-out."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd[0]} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _, body = http("GET", url, timeout=5)
                if status in ok:
                    return
                last = f"HTTP {status}: {body[:300]!r}"
            except OSError as err:
                last = repr(err)
            time.sleep(0.5)
        raise TimeoutError(f"{url} not ready after {timeout:.0f} s ({last}):\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL after ``timeout`` seconds; always closes the log."""
        try:
            if self.proc.poll() is None:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(self.proc.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        self.proc.wait(timeout=timeout)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            # children left in the group (MONAI Label's training subprocess) go too
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        finally:
            self._log.close()


def label_env(tmp: Path) -> Dict[str, str]:
    """Environment for MONAI Label processes: 2 threads, caches and logs in ``tmp``, nothing from the network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONAI_LABEL_", "PYTHONPATH"))}
    env.update(
        OMP_NUM_THREADS="2",
        MKL_NUM_THREADS="2",
        MONAI_LABEL_DICOMWEB_CACHE_PATH=str(tmp / "dicomweb-cache"),
        MONAI_LABEL_SESSION_PATH=str(tmp / "sessions"),
        MONAI_LABEL_DATASTORE_AUTO_RELOAD="false",
        HOME=str(tmp / "home"),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    return env


def start_label_server(
    tmp: Path, studies: Union[str, Path], bundles: Sequence[Path], *, extra: Sequence[str] = (), timeout=180.0
) -> Tuple[ManagedProcess, str]:
    """Start ``scripts/start_label_server.sh`` on a free loopback port; returns the process and its base URL."""
    require_label_venv()
    port = free_port()
    cmd: List[str] = ["bash", str(REPO / "scripts" / "start_label_server.sh"), "--studies", str(studies)]
    cmd += ["--app", str(tmp / "app"), "--host", LOOPBACK, "--port", str(port)]
    for b in bundles:
        cmd += ["--bundle", str(b)]
    if extra:
        cmd += ["--", *extra]
    server = ManagedProcess(cmd, tmp / f"monailabel-{port}.log", env=label_env(tmp), cwd=tmp)
    url = f"http://{LOOPBACK}:{port}"
    try:
        server.wait_http(f"{url}/info/", timeout=timeout)
    except BaseException:
        server.stop()
        raise
    return server, url


def run_in_label_venv(code: str, *args: str, timeout: float = 300.0, cwd: Optional[Path] = None) -> Any:
    """Run ``code`` with the label venv's python; it must print one JSON document last, which is returned."""
    python = require_label_venv()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONPATH")}
    env["OMP_NUM_THREADS"] = "2"
    env["PYTHONPATH"] = str(SHIM_DIR)  # what scripts/start_label_server.sh puts first (torchvision stand-in)
    res = subprocess.run(
        [str(python), "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(cwd) if cwd else "/",
    )
    if res.returncode != 0:
        raise RuntimeError(f"label venv snippet failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-6000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def mean_dice(pred: np.ndarray, truth: np.ndarray, labels: Optional[Sequence[int]] = None) -> float:
    """Mean Dice over the foreground labels present in ``truth`` (or ``labels``); shapes must match."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    labels = [int(v) for v in np.unique(truth) if v != 0] if labels is None else list(labels)
    scores = []
    for v in labels:
        p, t = pred == v, truth == v
        denom = p.sum() + t.sum()
        scores.append(1.0 if denom == 0 else 2.0 * np.logical_and(p, t).sum() / denom)
    return float(np.mean(scores)) if scores else float("nan")


def copy_tree(src: Path, dst: Path) -> Path:
    """Copy a folder (used for bundles and studies), replacing ``dst``."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def write_label_png(label_nifti: Path, out: Path) -> Path:
    """A 2D (x, y) label NIfTI as an 8-bit PNG (rows = y), the way MONAI's PILReader reads it back."""
    arr = np.asarray(cast(Any, nib.load(str(label_nifti))).dataobj).astype(np.uint8)
    Image.fromarray(np.ascontiguousarray(arr.T), mode="L").save(out)
    return out


_WEIGHTS_SNIPPET = r"""
import json, os, sys, torch
from monai.bundle import ConfigParser
root = sys.argv[1]
p = ConfigParser()
p.read_config(os.path.join(root, "configs", "inference.json"))
p["bundle_root"] = root
torch.manual_seed(0)
net = p.get_parsed_content("network_def")
torch.save(net.state_dict(), os.path.join(root, "models", "model.pt"))
print(json.dumps({"params": sum(x.numel() for x in net.parameters())}))
"""


def prepare_app(tmp: Path, bundles: Dict[str, Path]) -> Dict[str, bool]:
    """Lay out ``tmp/app`` (bundle copies) with the label venv; returns ``{model: has shipped weights}``.

    A bundle without ``models/model.pt`` gets seeded random weights in its copy, so MONAI Label serves it
    (it ignores a bundle without weights: ``monailabel/tasks/infer/bundle.py:119-129``); Dice checks are then
    skipped, the grid checks still run.
    """
    run_in_label_venv(
        "import json, sys; from cranialseg.label.app_dir import prepare_app_dir; "
        "print(json.dumps(str(prepare_app_dir(sys.argv[1], sys.argv[2:]))))",
        str(tmp / "app"),
        *[str(b) for b in bundles.values()],
    )
    shipped = {}
    for name in bundles:
        copy = tmp / "app" / "model" / name
        shipped[name] = (copy / "models" / "model.pt").exists()
        if not shipped[name]:
            (copy / "models").mkdir(exist_ok=True)
            run_in_label_venv(_WEIGHTS_SNIPPET, str(copy))
    return shipped


def dicom_to_nifti_with_monailabel(series_dir: Path, out: Path) -> Path:
    """Convert a DICOM series the way MONAI Label's DICOMweb datastore does (SimpleITK, ``convert.py:33``)."""
    run_in_label_venv(
        "import json, shutil, sys\nfrom monailabel.datastore.utils.convert import dicom_to_nifti\n"
        "shutil.move(dicom_to_nifti(sys.argv[1]), sys.argv[2]); print(json.dumps(sys.argv[2]))",
        str(series_dir),
        str(out),
    )
    return out


def shutil_copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


_PIPELINE_SNIPPET = r"""
import json, sys
import numpy as np, torch
from monai.bundle import ConfigParser
root, image, out = sys.argv[1:4]
p = ConfigParser()
p.read_config(root + "/configs/inference.json")
p["bundle_root"] = root
p["device"] = "cpu"
net = p.get_parsed_content("network_def")
net.load_state_dict(torch.load(root + "/models/model.pt", map_location="cpu", weights_only=True))
net.eval()
d = p.get_parsed_content("preprocessing")({"image": image})
with torch.no_grad():
    d["pred"] = p.get_parsed_content("inferer")(d["image"][None], net)[0]
d = p.get_parsed_content("postprocessing")(d)
np.save(out, np.asarray(d["pred"])[0].astype(np.uint8))
print(json.dumps(out))
"""


def bundle_pipeline_labels(bundle_root: Path, image: Path, out: Path) -> np.ndarray:
    """The bundle's own ``preprocessing``/``inferer``/``postprocessing`` on ``image`` (label venv), no MONAI Label."""
    run_in_label_venv(_PIPELINE_SNIPPET, str(bundle_root), str(image), str(out))
    return np.load(out)


def start_stock_server(
    tmp: Path, studies: Union[str, Path], bundles: Sequence[Path], *, timeout: float = 240.0
) -> Tuple[ManagedProcess, str]:
    """MONAI Label's own ``monaibundle`` app (from the wheel, offline) serving copies of ``bundles``.

    As a MONAI Label user runs it: ``monailabel apps --download --name monaibundle``, the bundles under its
    ``model/`` folder, ``--conf models a,b --conf zoo_source github --conf sam2 false``. Only the project's
    torchvision stand-in folder is put on ``PYTHONPATH`` (what ``scripts/start_label_server.sh`` does).
    """
    python = require_label_venv()
    env = label_env(tmp)
    env.update(PYTHONPATH=str(SHIM_DIR), BUNDLE_DOWNLOAD_SRC="github", MONAI_LABEL_TRACKING_ENABLED="false")
    app = tmp / "apps" / "monaibundle"  # `apps --download --output DIR` writes DIR/monaibundle
    if not (app / "main.py").exists():
        res = subprocess.run(
            [str(python), "-m", "monailabel.main", "apps", "--download", "--name", "monaibundle"]
            + ["--output", str(app.parent)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=str(tmp),
        )
        assert (app / "main.py").exists(), res.stdout[-2000:] + res.stderr[-4000:]
    for b in bundles:
        copy_tree(Path(b), app / "model" / Path(b).name)
    port = free_port()
    cmd = [str(python), "-m", "monailabel.main", "start_server", "--app", str(app), "--studies", str(studies)]
    cmd += ["--host", LOOPBACK, "--port", str(port), "--conf", "models", ",".join(Path(b).name for b in bundles)]
    cmd += ["--conf", "zoo_source", "github", "--conf", "sam2", "false"]
    server = ManagedProcess(cmd, tmp / f"stock-{port}.log", env=env, cwd=tmp)
    url = f"http://{LOOPBACK}:{port}"
    try:
        server.wait_http(f"{url}/info/", timeout=timeout)
    except BaseException:
        server.stop()
        raise
    return server, url
