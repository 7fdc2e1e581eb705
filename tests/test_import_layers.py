"""The package's imports flow one way: a module imports only from its own layer or a lower one.

Layers, lowest first (README "Layout"):

0. ``cranialseg.utils`` (and the root ``cranialseg`` for ``__version__``);
1. ``cranialseg.networks``, ``cranialseg.transforms``;
2. ``cranialseg.io`` (readers and writers) and ``cranialseg.metrics`` (the writers store head measurements and
   volumes, the metrics read label arrays);
3. ``cranialseg.data``, ``cranialseg.losses``, ``cranialseg.inferers``, ``cranialseg.handlers``, ``cranialseg.engines``,
   ``cranialseg.demo``;
4. ``cranialseg.label`` (MONAI Label); ``scripts/`` (benchmarks included) sit on top.

Every import is checked, also the ones inside functions, so a lazy import cannot hide a cycle. A sub-package that no
layer names fails the test, so a new one has to be placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

LAYERS = {
    "utils": 0,
    "networks": 1,
    "transforms": 1,
    "io": 2,
    "metrics": 2,
    "data": 3,
    "losses": 3,
    "inferers": 3,
    "handlers": 3,
    "engines": 3,
    "demo": 3,
    "label": 4,
}
#: source folders of the import package (setup.cfg ``package_dir``): ``networks/`` and ``transforms/`` are top level
ROOTS = {
    "cranialseg": REPO / "cranialseg",
    "cranialseg.networks": REPO / "networks",
    "cranialseg.transforms": REPO / "transforms",
}


def package_modules() -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package (``__init__`` files as their package)."""
    modules = {}
    for prefix, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            if prefix == "cranialseg" and rel.parts[0] in ("networks", "transforms"):
                continue  # development symlinks to the top-level folders
            parts = [p for p in rel.parts if p != "__init__"]
            modules[".".join([prefix, *parts])] = path
    return modules


def layer_of(module: str) -> int | None:
    """Layer of a ``cranialseg`` module (``cranialseg`` itself: 0); None for a sub-package no layer names."""
    parts = module.split(".")
    if parts[0] != "cranialseg":
        raise ValueError(f"{module} is not a cranialseg module")
    return 0 if len(parts) == 1 else LAYERS.get(parts[1])


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``cranialseg`` module that ``source`` (the code of ``module``) imports.

    Example:
        >>> imported_modules("from ..io import load_image\\nimport numpy\\n", "cranialseg.transforms.x")
        [(1, 'cranialseg.io')]
    """
    package = module if is_package else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "cranialseg"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cranialseg":
                continue
            if target == "cranialseg":  # `from cranialseg import io` imports the sub-package
                found += [(node.lineno, f"cranialseg.{a.name}" if a.name in LAYERS else target) for a in node.names]
            else:
                found.append((node.lineno, target))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports of ``source`` that reach a higher layer than ``module``'s (or a sub-package in no layer).

    Example:
        >>> violations("from cranialseg.io import InputError\\n", "cranialseg.transforms.labels")
        ['cranialseg.transforms.labels:1 (layer 1) imports cranialseg.io (layer 2)']
        >>> violations("from cranialseg.utils import as_bool\\n", "cranialseg.transforms.labels")
        []
    """
    own = layer_of(module)
    if own is None:
        return [f"{module}: its sub-package is in no layer (add it to LAYERS)"]
    bad = []
    for line, target in imported_modules(source, module, is_package):
        layer = layer_of(target)
        if layer is None or layer > own:
            bad.append(f"{module}:{line} (layer {own}) imports {target} (layer {layer})")
    return bad


def test_every_module_imports_only_its_layer_or_lower():
    modules = package_modules()
    assert len(modules) > 80, f"found only {len(modules)} modules under {list(ROOTS.values())}"
    bad = []
    for module, path in modules.items():
        bad += violations(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "source, module, expected",
    [
        ("from cranialseg.io.nifti import check_same_grid", "cranialseg.transforms.label_check", 1),
        ("def f():\n    from cranialseg.demo.hc18 import read_hc18_csv", "cranialseg.transforms.pixel_spacing", 1),
        ("from ...metrics import ellipse", "cranialseg.networks.blocks.cbam", 1),
        ("from cranialseg import handlers", "cranialseg.io.writers", 1),
        ("from cranialseg.handlers import EvaluationReport", "cranialseg.newkind.x", 1),
        ("from cranialseg.io import load_image\nfrom cranialseg import __version__", "cranialseg.engines.x", 0),
        ("from . import blocks\nfrom .utils import ensure_tuple_dims", "cranialseg.networks.nets", 0),
    ],
)
def test_layer_check_finds_upward_imports(source, module, expected):
    assert len(violations(source, module, is_package=module.endswith("nets"))) == expected


def test_workflows_package_is_gone():
    assert not (REPO / "cranialseg" / "workflows").exists()
