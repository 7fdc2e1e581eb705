"""Dictionary transforms that adapt a bundle's pipeline to the data dictionary MONAI Label passes around.

MONAI Label 0.8.5 runs a bundle's ``preprocessing`` and ``postprocessing`` on its request dictionary, which carries
more than the bundle expects. Two mismatches need these transforms:

* ``monailabel/tasks/infer/basic_infer.py:282`` adds the string ``image_path`` to the data. MONAI 1.6's
  ``Spacingd`` (``monai/transforms/spatial/dictionary.py:526-531``) calls ``.update()`` on every item whose key
  starts with ``image_`` when the file is NIfTI, so 3D inference fails with ``'str' object has no attribute
  'update'``. :class:`StashItemsd` moves such non-dictionary items out of the way before the bundle's
  transforms and :class:`RestoreItemsd` brings them back before MONAI Label's writer, which reads ``image_path``
  to choose the output format (``monailabel/transform/writer.py:188``).
* ``monailabel/transform/post.py:157`` (``Restored``) drops the channel axis of a prediction only when it has more
  than three axes, so a 2D label map stays ``(1, W, H)`` and ITK writes a 3D image instead of a PNG
  (``monailabel/transform/writer.py:232``). :class:`SqueezeChanneld` drops that leading singleton channel.
"""

from __future__ import annotations

from typing import Any, Dict, Hashable, Mapping, Optional

from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

__all__ = [
    "StashItemsd",
    "StashItemsD",
    "StashItemsDict",
    "RestoreItemsd",
    "RestoreItemsD",
    "RestoreItemsDict",
    "SqueezeChanneld",
    "SqueezeChannelD",
    "SqueezeChannelDict",
    "DEFAULT_STASH_KEY",
]

#: Where :class:`StashItemsd` keeps the items it moves; :class:`RestoreItemsd` reads the same key.
DEFAULT_STASH_KEY = "cranialseg_label_stash"


class StashItemsd(MapTransform):
    """Move the non-dictionary items named ``<key>_*`` into one stash item, out of MONAI's reach.

    MONAI 1.6 ``Spacingd`` treats every item whose name starts with ``<key>_`` as a metadata dictionary and calls
    ``update`` on it; MONAI Label adds the string ``image_path`` next to ``image``. This transform moves such items
    (strings, numbers, lists: anything that is not a mapping) into ``data[stash_key]``; :class:`RestoreItemsd`
    puts them back. Mapping items such as ``image_meta_dict`` stay where they are.

    Args:
        keys: the image keys whose ``<key>_*`` companions are checked, e.g. ``"image"``.
        stash_key: the item that holds the moved entries, a dictionary ``{name: value}``.
        allow_missing_keys: accepted for MONAI's signature; the companions are looked up by prefix.

    Example:
        >>> d = StashItemsd(keys="image")({"image": "a.nii.gz", "image_path": "a.nii.gz", "image_meta_dict": {}})
        >>> sorted(d), d[DEFAULT_STASH_KEY]
        (['cranialseg_label_stash', 'image', 'image_meta_dict'], {'image_path': 'a.nii.gz'})
    """

    def __init__(self, keys: KeysCollection, stash_key: str = DEFAULT_STASH_KEY, allow_missing_keys: bool = True):
        super().__init__(keys, allow_missing_keys=allow_missing_keys)
        if not isinstance(stash_key, str) or not stash_key:
            raise ValueError(f"stash_key must be a non-empty string, got {stash_key!r} ({type(stash_key).__name__})")
        self.stash_key = stash_key

    def __call__(self, data: Mapping[Hashable, Any]) -> Dict[Hashable, Any]:
        d = dict(data)
        stash: Dict[Hashable, Any] = dict(d.get(self.stash_key) or {})
        for key in self.keys:
            prefix = f"{key}_"
            for name in [k for k in d if isinstance(k, str) and k.startswith(prefix)]:
                if not isinstance(d[name], Mapping):
                    stash[name] = d.pop(name)
        d[self.stash_key] = stash
        return d


class RestoreItemsd(Transform):
    """Put back the items that :class:`StashItemsd` moved, and remove the stash.

    Args:
        stash_key: the item written by :class:`StashItemsd`.
        overwrite: replace an item of the same name that a transform created in the meantime.

    Example:
        >>> d = RestoreItemsd()({"pred": 0, DEFAULT_STASH_KEY: {"image_path": "a.nii.gz"}})
        >>> d
        {'pred': 0, 'image_path': 'a.nii.gz'}
    """

    def __init__(self, stash_key: str = DEFAULT_STASH_KEY, overwrite: bool = True):
        self.stash_key = stash_key
        self.overwrite = overwrite

    def __call__(self, data: Mapping[Hashable, Any]) -> Dict[Hashable, Any]:
        d = dict(data)
        stash = d.pop(self.stash_key, None) or {}
        for name, value in stash.items():
            if self.overwrite or name not in d:
                d[name] = value
        return d


class SqueezeChanneld(MapTransform):
    """Drop a leading singleton channel from a label map that has ``spatial_dims + 1`` axes.

    A 2D prediction arrives at MONAI Label's writer as ``(1, W, H)``; the writer needs ``(W, H)`` to write a PNG on
    the input's grid. Arrays that already have ``spatial_dims`` axes, or several channels, pass unchanged.

    Args:
        keys: the label keys, e.g. ``"pred"``.
        spatial_dims: number of spatial axes of the model (2 for ultrasound frames, 3 for CT volumes).
        allow_missing_keys: skip a missing key instead of raising ``KeyError``.

    Example:
        >>> import torch
        >>> SqueezeChanneld(keys="pred", spatial_dims=2)({"pred": torch.zeros(1, 5, 4)})["pred"].shape
        torch.Size([5, 4])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, keys: KeysCollection, spatial_dims: int = 2, allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys=allow_missing_keys)
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r} ({type(spatial_dims).__name__})")
        self.spatial_dims = spatial_dims

    def __call__(self, data: Mapping[Hashable, Any]) -> Dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            value = d[key]
            shape: Optional[tuple] = tuple(getattr(value, "shape", ()))
            if shape and len(shape) == self.spatial_dims + 1 and shape[0] == 1:
                d[key] = value[0]
        return d


StashItemsD = StashItemsDict = StashItemsd
RestoreItemsD = RestoreItemsDict = RestoreItemsd
SqueezeChannelD = SqueezeChannelDict = SqueezeChanneld
