"""No test asserts on wall-clock time (a loaded CI machine fails such tests; speed goes into benchmark scripts)."""

from __future__ import annotations

import ast
from pathlib import Path

CLOCKS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns", "process_time"}


def timed_assertions(source: str) -> list[int]:
    """Line numbers of ``assert`` statements that read a clock of the ``time`` module.

    Example:
        >>> timed_assertions("import time\\nassert time.perf_counter() - t < 0.2\\nassert x == 1\\n")
        [2]
    """
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Assert):
            continue
        for call in ast.walk(node.test):
            func = getattr(call, "func", None)
            if isinstance(func, ast.Attribute) and func.attr in CLOCKS and getattr(func.value, "id", "") == "time":
                lines.append(node.lineno)
                break
    return lines


def test_no_test_asserts_on_elapsed_time():
    tests = Path(__file__).resolve().parent
    found = {
        f"{path.relative_to(tests)}:{line}"
        for path in sorted(tests.rglob("*.py"))
        for line in timed_assertions(path.read_text())
    }
    assert not found, f"timed assertions (move the timing into a benchmark script): {sorted(found)}"
