"""Keep non-dictionary ``<key>_*`` items (e.g. MONAI Label's ``image_path``) away from MONAI 1.6's ``Spacingd``.

MONAI 1.6's ``Spacingd`` (``monai/transforms/spatial/dictionary.py:526-531``) calls ``.update()`` on every item whose
name starts with ``"<key>_"`` when the image came from a NIfTI file, so a string ``image_path`` (which MONAI Label adds
in ``monailabel/tasks/infer/basic_infer.py:282``) crashes it with ``'str' object has no attribute 'update'``.
:class:`StashItemsd` moves such items out of the way before the bundle's transforms and :class:`RestoreItemsd` puts
them back in post-processing (MONAI Label's writer reads ``image_path`` to choose the output format,
``monailabel/transform/writer.py:188``).
"""

from __future__ import annotations

from typing import Any, Dict, Hashable, Mapping

from monai.config import KeysCollection
from monai.transforms import MapTransform

__all__ = [
    "StashItemsd",
    "StashItemsD",
    "StashItemsDict",
    "RestoreItemsd",
    "RestoreItemsD",
    "RestoreItemsDict",
    "DEFAULT_STASH_KEY",
]

#: Where :class:`StashItemsd` keeps the items it moves; :class:`RestoreItemsd` reads the same key.
DEFAULT_STASH_KEY = "stashed_meta_items"


class StashItemsd(MapTransform):
    """Move the non-dictionary items named ``<key>_*`` into one stash item, out of MONAI's reach.

    Strings, numbers, lists (anything that is not a mapping) move into ``data[stash_key]``; :class:`RestoreItemsd`
    puts them back. Mapping items such as ``image_meta_dict`` stay where they are. Nothing to move: the data is
    returned without a stash item.

    Args:
        keys: the image keys whose ``<key>_*`` companions are checked, e.g. ``"image"``.
        stash_key: the item that holds the moved entries, a dictionary ``{name: value}``; must not start with one
            of ``keys`` + ``"_"`` (it would be stashed itself).
        allow_missing_keys: accepted for MONAI's signature; the companions are looked up by prefix.

    Example:
        >>> d = StashItemsd(keys="image")({"image": "a.nii.gz", "image_path": "a.nii.gz", "image_meta_dict": {}})
        >>> sorted(d), d[DEFAULT_STASH_KEY]
        (['image', 'image_meta_dict', 'stashed_meta_items'], {'image_path': 'a.nii.gz'})
    """

    backend: list = []

    def __init__(self, keys: KeysCollection, stash_key: str = DEFAULT_STASH_KEY, allow_missing_keys: bool = True):
        super().__init__(keys, allow_missing_keys=allow_missing_keys)
        if not isinstance(stash_key, str) or not stash_key:
            raise ValueError(f"stash_key must be a non-empty string, got {stash_key!r} ({type(stash_key).__name__})")
        for key in self.keys:
            if str(stash_key).startswith(f"{key}_"):
                raise ValueError(f"stash_key={stash_key!r} must not start with '{key}_' (it would be stashed itself)")
        self.stash_key = stash_key

    def __call__(self, data: Mapping[Hashable, Any]) -> Dict[Hashable, Any]:
        d = dict(data)
        stash: Dict[Hashable, Any] = dict(d.get(self.stash_key) or {})
        for key in self.keys:
            prefix = f"{key}_"
            for name in [k for k in d if isinstance(k, str) and k.startswith(prefix)]:
                if not isinstance(d[name], Mapping):
                    stash[name] = d.pop(name)
        if stash:
            d[self.stash_key] = stash
        return d


class RestoreItemsd(MapTransform):
    """Put back the items that :class:`StashItemsd` moved, and remove the stash.

    Args:
        keys: not used (the stash says which items to restore); accepted for MONAI's dictionary signature.
        stash_key: the item written by :class:`StashItemsd`.
        overwrite: replace an item of the same name that a transform created in the meantime.

    Example:
        >>> d = RestoreItemsd()({"pred": 0, DEFAULT_STASH_KEY: {"image_path": "a.nii.gz"}})
        >>> d
        {'pred': 0, 'image_path': 'a.nii.gz'}
    """

    backend: list = []

    def __init__(self, keys: KeysCollection = "image", stash_key: str = DEFAULT_STASH_KEY, overwrite: bool = True):
        super().__init__(keys, allow_missing_keys=True)
        self.stash_key = stash_key
        self.overwrite = overwrite

    def __call__(self, data: Mapping[Hashable, Any]) -> Dict[Hashable, Any]:
        d = dict(data)
        stash = d.pop(self.stash_key, None) or {}
        for name, value in stash.items():
            if self.overwrite or name not in d:
                d[name] = value
        return d


StashItemsD = StashItemsDict = StashItemsd
RestoreItemsD = RestoreItemsDict = RestoreItemsd
