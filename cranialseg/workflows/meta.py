"""Keep string meta entries away from MONAI 1.6's ``Spacingd``, which updates every ``<key>_*`` item as a dict."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

__all__ = [
    "StashMetaKeysd",
    "RestoreMetaKeysd",
    "StashMetaKeysD",
    "StashMetaKeysDict",
    "RestoreMetaKeysD",
    "RestoreMetaKeysDict",
    "STASH_KEY",
]

STASH_KEY = "stashed_meta_items"


class StashMetaKeysd(MapTransform):
    """Move non-dict items named ``<key>_*`` (e.g. MONAI Label's ``image_path`` string) out of the way.

    MONAI 1.6.1's ``Spacingd`` calls ``d[k].update(...)`` on every item whose name starts with ``"<key>_"`` when the
    image came from a NIfTI file, so a string ``image_path`` crashes it with
    ``'str' object has no attribute 'update'``. This transform moves such items into ``d[stash_key]`` and
    :class:`RestoreMetaKeysd` puts them back in post-processing. Dict items (``image_meta_dict``) stay.

    Args:
        keys: image keys whose ``<key>_*`` siblings are checked.
        stash_key: where the moved items are kept (must not start with one of ``keys`` + ``"_"``).
        allow_missing_keys: don't raise when a key is missing.

    Example:
        >>> StashMetaKeysd("image")({"image": 0, "image_path": "a.nii"})
        {'image': 0, 'stashed_meta_items': {'image_path': 'a.nii'}}
    """

    backend: list = []

    def __init__(self, keys: KeysCollection, stash_key: str = STASH_KEY, allow_missing_keys: bool = True) -> None:
        super().__init__(keys, allow_missing_keys)
        for key in self.keys:
            if str(stash_key).startswith(f"{key}_"):
                raise ValueError(f"stash_key={stash_key!r} must not start with '{key}_' (it would be stashed itself)")
        self.stash_key = stash_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        stash = dict(d.get(self.stash_key) or {})
        for key in self.keys:
            prefix = f"{key}_"
            for name in [k for k in d if isinstance(k, str) and k.startswith(prefix)]:
                if not isinstance(d[name], dict):
                    stash[name] = d.pop(name)
        if stash:
            d[self.stash_key] = stash
        return d


class RestoreMetaKeysd(MapTransform):
    """Put back the items moved by :class:`StashMetaKeysd` (keys are ignored; present for the MONAI signature).

    Example:
        >>> RestoreMetaKeysd("image")({"image": 0, "stashed_meta_items": {"image_path": "a.nii"}})
        {'image': 0, 'image_path': 'a.nii'}
    """

    backend: list = []

    def __init__(self, keys: KeysCollection = "image", stash_key: str = STASH_KEY, allow_missing_keys: bool = True):
        super().__init__(keys, allow_missing_keys)
        self.stash_key = stash_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        stash = d.pop(self.stash_key, None) or {}
        for name, value in stash.items():
            d.setdefault(name, value)
        return d


StashMetaKeysD = StashMetaKeysDict = StashMetaKeysd
RestoreMetaKeysD = RestoreMetaKeysDict = RestoreMetaKeysd
