"""Find (or generate) a bundle's datalist: the demo data when the data folder is empty."""

from __future__ import annotations

import json
import logging
from pathlib import Path

__all__ = [
    "DATALIST_NAMES",
    "find_datalist",
    "prepare_datalist",
    "load_datalist_section",
    "require_hc18_datalist",
]

logger = logging.getLogger(__name__)

#: datalist file names looked for in a data folder, in order
DATALIST_NAMES = ("datalist.json", "dataset.json", "dataset_0.json")


def find_datalist(data_dir: str | Path) -> Path | None:
    """The first of :data:`DATALIST_NAMES` in ``data_dir`` (or ``data_dir`` itself when it is a JSON file).

    Example:
        >>> find_datalist("/nonexistent") is None
        True
    """
    data_dir = Path(data_dir)
    if data_dir.is_file() and data_dir.suffix == ".json":
        return data_dir
    for name in DATALIST_NAMES:
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def prepare_datalist(data_dir: str | Path, task: str = "ct", num_cases: int | None = None, seed: int = 0) -> str:
    """Path of the datalist in ``data_dir``; when there is none, generate the demo data there first.

    Generation calls :func:`cranialseg.demo.ensure_demo_data` (deterministic from ``seed``; nothing is
    downloaded). Put your own decathlon-format ``datalist.json`` in ``data_dir`` to train on your data instead.

    Args:
        data_dir: the bundle's data folder (``<bundle_root>/data``) or a datalist JSON file.
        task: ``"ct"`` or ``"us"`` (demo data kind).
        num_cases: number of demo cases to generate (the generator's default when ``None``).
        seed: demo data seed.

    Example:
        In ``train.json``: ``"datalist_file": "$cranialseg.data.prepare_datalist(@data_dir, 'ct')"``.
    """
    found = find_datalist(data_dir)
    if found is not None:
        return str(found)
    try:
        from cranialseg.demo import ensure_demo_data
    except ImportError as e:
        raise RuntimeError(
            f"no datalist ({' / '.join(DATALIST_NAMES)}) in data_dir '{data_dir}', and the demo data generator "
            f"cranialseg.demo.ensure_demo_data is not available to create one: {e}"
        ) from e
    kwargs = {"task": task, "seed": seed}
    if num_cases is not None:
        kwargs["num_cases"] = int(num_cases)
    logger.info(f"no datalist in {data_dir}: generating the {task} demo data there")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return str(ensure_demo_data(data_dir, **kwargs))


def load_datalist_section(datalist_file: str | Path, section: str = "training", keys=("image", "label")) -> list:
    """Items of one section of a decathlon datalist with paths made absolute (relative to the JSON's folder).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "l.json").write_text('{"training": [{"image": "a.nii.gz", "label": "b.nii.gz"}]}')
        >>> load_datalist_section(d / "l.json")[0]["image"] == str(d / "a.nii.gz")
        True
    """
    path = Path(datalist_file)
    content = json.loads(path.read_text())
    if section not in content:
        raise KeyError(f"datalist {path} has no section {section!r}; it has {sorted(content)}")
    items = []
    for item in content[section]:
        item = dict(item) if isinstance(item, dict) else {"image": item}
        for key in keys:
            value = item.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                item[key] = str((path.parent / value).resolve())
        items.append(item)
    return items


def require_hc18_datalist(data_dir: str | Path) -> str:
    """The datalist in ``data_dir`` (or ``data_dir`` itself when it is a JSON file); a clear error otherwise.

    HC18 is not generated: it is prepared from the challenge folder with ``scripts/prepare_hc18.py``.

    Raises:
        FileNotFoundError: naming the folder and the preparation command.
    """
    found = find_datalist(data_dir)
    if found is None:
        raise FileNotFoundError(
            f"no datalist ({' / '.join(DATALIST_NAMES)}) in data_dir '{data_dir}': prepare HC18 first, e.g. "
            f"python scripts/prepare_hc18.py --src ../shared/data/hc18_fetal_head_us --dst {data_dir} "
            "(add --max-size 384 for a small copy), or pass --data_dir / --datalist_file"
        )
    return str(found)
