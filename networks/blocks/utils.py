"""Small argument helpers shared by the blocks: per-axis tuples and their checks, with clear errors."""

from __future__ import annotations

from typing import Sequence, Tuple, Union

__all__ = ["ensure_tuple_dims", "check_odd_kernel"]


def ensure_tuple_dims(value: Union[Sequence[int], int], spatial_dims: int, name: str) -> Tuple[int, ...]:
    """Return ``value`` as a tuple of ``spatial_dims`` positive ints (an int is repeated per axis).

    Raises:
        ValueError: when a sequence has the wrong length or an entry is not a positive int.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        out: Tuple[int, ...] = (value,) * spatial_dims
    else:
        try:
            out = tuple(int(v) for v in value)  # type: ignore[union-attr]
        except TypeError:
            raise ValueError(
                f"{name} must be an int or a sequence of {spatial_dims} ints, got {value!r} ({type(value).__name__})."
            ) from None
        if len(out) != spatial_dims:
            raise ValueError(f"{name} must have one entry per spatial axis ({spatial_dims}), got {value!r}.")
    if any(v < 1 for v in out):
        raise ValueError(f"{name} entries must be positive, got {value!r}.")
    return out


def check_odd_kernel(kernel: Sequence[int], name: str) -> None:
    """Raise ``ValueError`` unless every entry of ``kernel`` is odd (so 'same' padding is symmetric)."""
    if any(k % 2 == 0 for k in kernel):
        raise ValueError(f"{name} must be odd on every axis (for symmetric 'same' padding), got {tuple(kernel)!r}.")
