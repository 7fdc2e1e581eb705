"""Helpers every layer may use: options, paths, mixed precision, atomic writes, the input error, 2D-vs-3D shapes."""

from cranialseg.utils.amp import FLOAT16_MAX, activation_range, amp_autocast, amp_dtype, amp_kwargs, fp16_overflows
from cranialseg.utils.atomic import atomic_write, write_json
from cranialseg.utils.errors import InputError
from cranialseg.utils.options import MAX_NAME_LENGTH, as_bool, path_inside, safe_name
from cranialseg.utils.paths import component_factory, default_device, read_bundle_config, resolve_bundle_root
from cranialseg.utils.spatial import (
    drop_singleton_slice,
    embed_affine_2d,
    has_singleton_slice,
    is_2d,
    spatial_shape,
)

__all__ = [
    "InputError",
    "as_bool",
    "safe_name",
    "path_inside",
    "MAX_NAME_LENGTH",
    "resolve_bundle_root",
    "read_bundle_config",
    "component_factory",
    "default_device",
    "FLOAT16_MAX",
    "amp_dtype",
    "amp_kwargs",
    "amp_autocast",
    "activation_range",
    "fp16_overflows",
    "atomic_write",
    "write_json",
    "has_singleton_slice",
    "spatial_shape",
    "is_2d",
    "drop_singleton_slice",
    "embed_affine_2d",
]
