"""MONAI array and dictionary transforms for cranial ultrasound and head CT.

Families: :mod:`.ct` (multi-window channels; the intracranial mask used by :mod:`.lesions`), :mod:`.ultrasound`
(grey conversion, sector masking), :mod:`.speckle` (random speckle and acoustic shadows), :mod:`.labels`
(image-level presence labels), :mod:`.label_check` (a label checked against the label set and its image's grid) and
:mod:`.lesions` (lesion-aware post-processing of a CT label map). All are intensity transforms or checks (no
resampling), so ``Invertd`` passes them through.
"""

from .ct import (
    CT_WINDOW_PRESETS,
    CTWindows,
    CTWindowsD,
    CTWindowsd,
    CTWindowsDict,
    intracranial_mask,
)
from .label_check import CheckLabel, CheckLabelD, CheckLabeld, CheckLabelDict
from .labels import LabelToPresence, LabelToPresenceD, LabelToPresenced, LabelToPresenceDict
from .lesions import (
    RemoveImplausibleLesions,
    RemoveImplausibleLesionsD,
    RemoveImplausibleLesionsd,
    RemoveImplausibleLesionsDict,
    implausible_lesion_components,
)
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
    "CheckLabel",
    "CheckLabeld",
    "CheckLabelD",
    "CheckLabelDict",
    "CT_WINDOW_PRESETS",
    "CTWindows",
    "CTWindowsd",
    "CTWindowsD",
    "CTWindowsDict",
    "intracranial_mask",
    "LabelToPresence",
    "LabelToPresenced",
    "LabelToPresenceD",
    "LabelToPresenceDict",
    "RemoveImplausibleLesions",
    "RemoveImplausibleLesionsd",
    "RemoveImplausibleLesionsD",
    "RemoveImplausibleLesionsDict",
    "implausible_lesion_components",
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
