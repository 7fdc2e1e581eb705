"""``LoadImage`` / ``LoadImaged`` that read with :class:`CranialImageReader` only, never MONAI's fallbacks."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.image_reader import ImageReader
from monai.transforms import EnsureChannelFirst, LoadImage, LoadImaged
from monai.utils import ImageMetaKey, convert_to_dst_type, ensure_tuple
from monai.utils.enums import PostFix

from cranialseg.io.reader import CranialImageReader

__all__ = ["LoadCranialImage", "LoadCranialImaged", "LoadCranialImageD", "LoadCranialImageDict"]


class LoadCranialImage(LoadImage):
    """MONAI's ``LoadImage`` with :class:`CranialImageReader` as its only reader.

    ``LoadImage(reader=CranialImageReader())`` tries MONAI's default readers (Nibabel, PIL, ITK, ...) when ours
    raises, so our refusals (NaN voxels, truncated or duplicated slices, mixed orientations, hostile sizes) were
    bypassed and a bad file came out as a "success". Here the reader's :class:`~cranialseg.io.InputError`
    reaches the caller unchanged, naming the file and the problem.

    Args:
        reader: a :class:`CranialImageReader` (or another ``ImageReader``); default ``CranialImageReader()``.
        image_only, dtype, ensure_channel_first, simple_keys, prune_meta_pattern, prune_meta_sep: as ``LoadImage``.
        reader_kwargs: keyword arguments of ``CranialImageReader`` when ``reader`` is not given
            (``max_voxels``, ``max_tilt_deg``, ``on_irregular``, ...).

    Example:
        >>> import tempfile, os, nibabel as nib
        >>> f = os.path.join(tempfile.mkdtemp(), "nan.nii.gz")
        >>> nib.save(nib.Nifti1Image(np.full((2, 2, 2), np.nan, np.float32), np.eye(4)), f)
        >>> try:
        ...     LoadCranialImage()(f)
        ... except ValueError as err:
        ...     print(err.problem)
        8 NaN and 0 inf voxels
    """

    def __init__(
        self,
        reader: Optional[ImageReader] = None,
        image_only: bool = True,
        dtype: Any = np.float32,
        ensure_channel_first: bool = False,
        simple_keys: bool = False,
        prune_meta_pattern: Optional[str] = None,
        prune_meta_sep: str = ".",
        **reader_kwargs: Any,
    ) -> None:
        reader = reader if reader is not None else CranialImageReader(**reader_kwargs)
        super().__init__(None, image_only, dtype, ensure_channel_first, simple_keys, prune_meta_pattern, prune_meta_sep)
        self.readers = [reader]  # no fallback readers

    def __call__(self, filename: Any, reader: Optional[ImageReader] = None) -> Any:
        """Read ``filename`` (a path or a DICOM series' file list) with the one reader; errors propagate."""
        names = tuple(str(f) for f in ensure_tuple(filename))
        reader = reader or self.readers[-1]
        img = reader.read(names if len(names) > 1 else names[0])
        img_array, meta_data = reader.get_data(img)
        img_array = convert_to_dst_type(img_array, dst=img_array, dtype=self.dtype)[0]
        meta_data[ImageMetaKey.FILENAME_OR_OBJ] = names[0]
        out = MetaTensor.ensure_torch_and_prune_meta(
            img_array, meta_data, self.simple_keys, pattern=self.pattern, sep=self.sep
        )
        if self.ensure_channel_first:
            out = EnsureChannelFirst()(out, meta_dict=meta_data)
        return out if self.image_only else (out, out.meta)


class LoadCranialImaged(LoadImaged):
    """Dictionary version of :class:`LoadCranialImage` (MONAI's ``LoadImaged`` without fallback readers).

    Example:
        ``{"_target_": "cranialseg.io.LoadCranialImaged", "keys": "image", "ensure_channel_first": true,
        "max_voxels": 2147483648}`` in a bundle config.
    """

    def __init__(
        self,
        keys: KeysCollection,
        reader: Optional[ImageReader] = None,
        dtype: Any = np.float32,
        meta_keys: Optional[KeysCollection] = None,
        meta_key_postfix: str = PostFix.meta(),
        overwriting: bool = False,
        image_only: bool = True,
        ensure_channel_first: bool = False,
        simple_keys: bool = False,
        prune_meta_pattern: Optional[str] = None,
        prune_meta_sep: str = ".",
        allow_missing_keys: bool = False,
        **reader_kwargs: Any,
    ) -> None:
        super().__init__(
            keys,
            None,
            dtype,
            meta_keys,
            meta_key_postfix,
            overwriting,
            image_only,
            ensure_channel_first,
            simple_keys,
            prune_meta_pattern,
            prune_meta_sep,
            allow_missing_keys,
        )
        self._loader = LoadCranialImage(
            reader, image_only, dtype, ensure_channel_first, simple_keys, prune_meta_pattern, prune_meta_sep,
            **reader_kwargs,
        )  # fmt: skip


LoadCranialImageD = LoadCranialImageDict = LoadCranialImaged
