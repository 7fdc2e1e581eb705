"""Lay out a MONAI Label app folder that serves the cranialseg bundles.

MONAI Label loads an app from a folder that holds ``main.py`` (a ``MONAILabelApp`` subclass) and reads bundles from
``<app>/model/<name>`` (``monailabel/utils/others/generic.py:334-362``); at start it also creates ``model``, ``lib``,
``logs`` and ``bin`` there (``monailabel/main.py``, ``start_server_init_settings``). So the app folder is a
run-time folder outside the source tree: its ``main.py`` only re-exports :class:`cranialseg.label.app.CranialSegApp`,
and each bundle is linked (``mode="link"``, training then updates the bundle's own ``models/model.pt``) or copied
without its data and outputs (``mode="copy"``, the default: MONAI Label's training writes into the copy and the
shipped weights stay as they are).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "b1" / "configs").mkdir(parents=True)
    >>> app = prepare_app_dir(root / "app", [root / "b1"])
    >>> sorted(p.name for p in app.iterdir()), [p.name for p in (app / "model").iterdir()]
    (['main.py', 'model'], ['b1'])
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import List, Optional, Sequence, Union

__all__ = ["prepare_app_dir", "APP_MAIN", "COPY_IGNORE", "MODES"]

PathLike = Union[str, "os.PathLike[str]"]

#: The generated ``main.py``: MONAI Label finds the app class by its base name in this module's namespace
#: (``monailabel/utils/others/class_utils.py``, ``get_class_of_subclass``).
APP_MAIN = '''"""MONAI Label app serving the cranialseg bundles (written by cranialseg.label.app_dir)."""

from cranialseg.label.app import CranialSegApp  # noqa: F401
'''

#: Folders of a bundle that are never copied into the app: generated data, evaluation outputs, runs, caches.
COPY_IGNORE = (
    "data",
    "eval",
    "runs",
    "outputs",
    "__pycache__",
    "*.pyc",
    "models/*.ts",
    "models/*.onnx",
    "models/checkpoint*.pt",
)

MODES = ("copy", "link")


def _ignore(src: str, names: List[str]) -> set:
    ignored = set(shutil.ignore_patterns(*[p for p in COPY_IGNORE if "/" not in p])(src, names))
    if os.path.basename(src) == "models":
        ignored |= set(shutil.ignore_patterns(*[p.split("/", 1)[1] for p in COPY_IGNORE if "/" in p])(src, names))
    return ignored


def prepare_app_dir(
    app_dir: PathLike, bundles: Sequence[PathLike], *, mode: str = "copy", refresh: bool = False
) -> Path:
    """Write ``<app_dir>/main.py`` and put each bundle at ``<app_dir>/model/<bundle folder name>``.

    Args:
        app_dir: the app folder to create or update.
        bundles: bundle folders (each with ``configs/``); the folder name becomes the MONAI Label model name.
        mode: ``"copy"`` (default) copies a bundle once, so MONAI Label's training updates the copy; ``"link"``
            makes a symbolic link to the bundle itself.
        refresh: replace an existing copy by a fresh one (drops weights trained in the app).

    Returns:
        The app folder, resolved.

    Raises:
        ValueError: unknown ``mode``, or two bundles with the same folder name.
        FileNotFoundError: a bundle folder without ``configs/``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r} ({type(mode).__name__})")
    app = Path(app_dir).resolve()
    sources = [Path(b).resolve() for b in bundles]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"bundles must have distinct folder names (the model ids), got {names}")
    for src in sources:
        if not (src / "configs").is_dir():
            raise FileNotFoundError(f"bundle folder {src} has no configs/ folder; expected a MONAI bundle")
    model_dir = app / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    main_py = app / "main.py"
    if not main_py.exists() or main_py.read_text(encoding="utf-8") != APP_MAIN:
        main_py.write_text(APP_MAIN, encoding="utf-8")
    for src in sources:
        dst = model_dir / src.name
        if mode == "link":
            if dst.is_symlink() and Path(os.readlink(dst)) == src:
                continue
            _remove(dst)
            dst.symlink_to(src, target_is_directory=True)
            continue
        if dst.is_symlink() or (refresh and dst.exists()):
            _remove(dst)
        if not dst.exists():
            tmp = model_dir / f".{src.name}.partial"
            _remove(tmp)
            shutil.copytree(src, tmp, ignore=_ignore, symlinks=False)
            tmp.rename(dst)
    return app


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Lay out a MONAI Label app folder serving cranialseg bundles.")
    parser.add_argument("app_dir", help="app folder to create or update")
    parser.add_argument("bundles", nargs="+", help="bundle folders; each folder name becomes a model id")
    parser.add_argument("--mode", choices=MODES, default="copy", help="copy the bundles (default) or link them")
    parser.add_argument("--refresh", action="store_true", help="replace existing copies (drops app-trained weights)")
    args = parser.parse_args(argv)
    print(prepare_app_dir(args.app_dir, args.bundles, mode=args.mode, refresh=args.refresh))


if __name__ == "__main__":
    _main()
