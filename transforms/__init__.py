"""MONAI array and dictionary transforms for cranial ultrasound and head CT.

Families: :mod:`.ct` (multi-window channels, the head crop and the intracranial mask used by :mod:`.lesions`),
:mod:`.ultrasound` (grey conversion, sector masking), :mod:`.speckle` (random speckle and acoustic shadows),
:mod:`.labels` (image-level presence labels), :mod:`.lesions` (lesion-aware post-processing of a CT label map),
:mod:`.contact` (lesion components that must lie against a host structure: an IVH clot against ventricle),
:mod:`.modality` (the input's modality and dimensions checked against the bundle), :mod:`.dims` (a single-frame
``(W, H, 1)`` image to 2D and back, a singleton channel dropped), :mod:`.pixel_spacing` (pixel size of uncalibrated
frames), :mod:`.resize` (a frame to a fixed short side, aspect kept), :mod:`.heads` (the network's heads unpacked in
post-processing) and :mod:`.meta` (items kept away from MONAI's ``Spacingd``). Transforms import only
:mod:`cranialseg.utils` of this package (never :mod:`cranialseg.io`).
"""

from .contact import (
    RemoveDetachedLesions,
    RemoveDetachedLesionsD,
    RemoveDetachedLesionsd,
    RemoveDetachedLesionsDict,
    lesion_contacts,
)
from .ct import (
    CT_WINDOW_PRESETS,
    CTWindows,
    CTWindowsD,
    CTWindowsd,
    CTWindowsDict,
    head_foreground,
    intracranial_mask,
)
from .dims import (
    DropSingletonSlice,
    DropSingletonSliceD,
    DropSingletonSliced,
    DropSingletonSliceDict,
    SqueezeChannelD,
    SqueezeChanneld,
    SqueezeChannelDict,
)
from .heads import PRESENCE_KEY, UnpackHeadsD, UnpackHeadsd, UnpackHeadsDict
from .labels import LabelToPresence, LabelToPresenceD, LabelToPresenced, LabelToPresenceDict, presence_targets
from .lesions import (
    RemoveImplausibleLesions,
    RemoveImplausibleLesionsD,
    RemoveImplausibleLesionsd,
    RemoveImplausibleLesionsDict,
    implausible_lesion_components,
)
from .meta import (
    DEFAULT_STASH_KEY,
    RestoreItemsD,
    RestoreItemsd,
    RestoreItemsDict,
    StashItemsD,
    StashItemsd,
    StashItemsDict,
)
from .modality import (
    BUNDLE_FOR,
    CheckModality,
    CheckModalityD,
    CheckModalityd,
    CheckModalityDict,
    ModalityMismatchError,
    read_dicom_modality,
)
from .pixel_spacing import PixelSpacing, PixelSpacingd, read_hc18_csv, read_pixel_spacing_csv
from .resize import ResizeShortSide, ResizeShortSideD, ResizeShortSided, ResizeShortSideDict, short_side_size
from .speckle import (
    RandAcousticShadow,
    RandAcousticShadowD,
    RandAcousticShadowd,
    RandAcousticShadowDict,
    RandSpeckleNoise,
    RandSpeckleNoiseD,
    RandSpeckleNoised,
    RandSpeckleNoiseDict,
)
from .ultrasound import (
    SectorMask,
    SectorMaskD,
    SectorMaskd,
    SectorMaskDict,
    UltrasoundToGrey,
    UltrasoundToGreyD,
    UltrasoundToGreyd,
    UltrasoundToGreyDict,
    estimate_sector_mask,
)

__all__ = [
    "DropSingletonSlice",
    "DropSingletonSliced",
    "DropSingletonSliceD",
    "DropSingletonSliceDict",
    "SqueezeChanneld",
    "SqueezeChannelD",
    "SqueezeChannelDict",
    "PRESENCE_KEY",
    "UnpackHeadsd",
    "UnpackHeadsD",
    "UnpackHeadsDict",
    "presence_targets",
    "DEFAULT_STASH_KEY",
    "StashItemsd",
    "StashItemsD",
    "StashItemsDict",
    "RestoreItemsd",
    "RestoreItemsD",
    "RestoreItemsDict",
    "BUNDLE_FOR",
    "CheckModality",
    "CheckModalityd",
    "CheckModalityD",
    "CheckModalityDict",
    "ModalityMismatchError",
    "read_dicom_modality",
    "PixelSpacing",
    "PixelSpacingd",
    "read_hc18_csv",
    "read_pixel_spacing_csv",
    "CT_WINDOW_PRESETS",
    "CTWindows",
    "CTWindowsd",
    "CTWindowsD",
    "CTWindowsDict",
    "head_foreground",
    "intracranial_mask",
    "LabelToPresence",
    "LabelToPresenced",
    "LabelToPresenceD",
    "LabelToPresenceDict",
    "RemoveDetachedLesions",
    "RemoveDetachedLesionsd",
    "RemoveDetachedLesionsD",
    "RemoveDetachedLesionsDict",
    "lesion_contacts",
    "RemoveImplausibleLesions",
    "RemoveImplausibleLesionsd",
    "RemoveImplausibleLesionsD",
    "RemoveImplausibleLesionsDict",
    "implausible_lesion_components",
    "ResizeShortSide",
    "ResizeShortSided",
    "ResizeShortSideD",
    "ResizeShortSideDict",
    "short_side_size",
    "RandAcousticShadow",
    "RandAcousticShadowd",
    "RandAcousticShadowD",
    "RandAcousticShadowDict",
    "RandSpeckleNoise",
    "RandSpeckleNoised",
    "RandSpeckleNoiseD",
    "RandSpeckleNoiseDict",
    "SectorMask",
    "SectorMaskd",
    "SectorMaskD",
    "SectorMaskDict",
    "UltrasoundToGrey",
    "UltrasoundToGreyd",
    "UltrasoundToGreyD",
    "UltrasoundToGreyDict",
    "estimate_sector_mask",
]
