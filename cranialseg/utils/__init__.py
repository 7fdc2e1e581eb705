"""Helpers every layer may use: options, paths, mixed precision, atomic file writes, the input error."""

from cranialseg.utils.amp import FLOAT16_MAX, activation_range, amp_autocast, amp_dtype, amp_kwargs, fp16_overflows
from cranialseg.utils.atomic import atomic_write, write_json
from cranialseg.utils.errors import InputError
from cranialseg.utils.options import MAX_NAME_LENGTH, as_bool, path_inside, safe_name
from cranialseg.utils.paths import default_device, resolve_bundle_root

__all__ = [
    "InputError",
    "as_bool",
    "safe_name",
    "path_inside",
    "MAX_NAME_LENGTH",
    "resolve_bundle_root",
    "default_device",
    "FLOAT16_MAX",
    "amp_dtype",
    "amp_kwargs",
    "amp_autocast",
    "activation_range",
    "fp16_overflows",
    "atomic_write",
    "write_json",
]
