"""Helpers the bundle configs call: bundle paths, data lists, batch inference, DICOM SEG, evaluation, export."""

from cranialseg.workflows.checkpoints import AtomicCheckpointSaver, AtomicDiskSaver, BestMetricState
from cranialseg.workflows.datalist import find_datalist, load_datalist_section, prepare_datalist
from cranialseg.workflows.dims import (
    DropSingletonSlice,
    DropSingletonSliceD,
    DropSingletonSliced,
    DropSingletonSliceDict,
)
from cranialseg.workflows.evaluation import EvaluationReport, case_metrics, detection_rates, summarize_cases
from cranialseg.workflows.grid_check import (
    CheckResampledSizeD,
    CheckResampledSized,
    CheckResampledSizeDict,
    resampled_shape,
)
from cranialseg.workflows.handlers import (
    ResumeCheckpointLoader,
    TrainingCheckpointSaver,
    latest_checkpoint,
    read_checkpoint,
)
from cranialseg.workflows.heads import (
    PRESENCE_KEY,
    SegmentationPresenceLoss,
    SlidingWindowImageHeadInferer,
    UnpackHeadsD,
    UnpackHeadsd,
    UnpackHeadsDict,
    WithImageHead,
    infer_with_image_head,
    presence_targets,
)
from cranialseg.workflows.inference import BatchFailedError, BatchInference, Case, load_network
from cranialseg.workflows.meta import (
    RestoreMetaKeysD,
    RestoreMetaKeysd,
    RestoreMetaKeysDict,
    StashMetaKeysD,
    StashMetaKeysd,
    StashMetaKeysDict,
)
from cranialseg.workflows.modality import (
    BUNDLE_FOR,
    CheckModality,
    CheckModalityD,
    CheckModalityd,
    CheckModalityDict,
    ModalityMismatchError,
)
from cranialseg.workflows.onnx_runtime import OnnxRuntimeNetwork, export_onnx
from cranialseg.workflows.options import as_bool, path_inside, safe_name
from cranialseg.workflows.outputs import (
    atomic_write,
    class_volumes,
    save_label_nifti,
    save_label_png,
    save_overlay_png,
    write_json,
)
from cranialseg.workflows.paths import default_device, resolve_bundle_root
from cranialseg.workflows.screening import ScreenCases, case_name, root_error
from cranialseg.workflows.writers import (
    CaseWriterd,
    SaveDicomSegd,
    SaveLabelNiftid,
    SaveLabelPngd,
    SaveOverlayd,
    SaveVolumesd,
)

__all__ = [
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "BestMetricState",
    "BUNDLE_FOR",
    "BatchFailedError",
    "BatchInference",
    "Case",
    "CaseWriterd",
    "CheckResampledSized",
    "CheckResampledSizeD",
    "CheckResampledSizeDict",
    "SaveDicomSegd",
    "SaveLabelNiftid",
    "SaveLabelPngd",
    "SaveOverlayd",
    "SaveVolumesd",
    "as_bool",
    "path_inside",
    "resampled_shape",
    "safe_name",
    "CheckModality",
    "CheckModalityd",
    "CheckModalityD",
    "CheckModalityDict",
    "DropSingletonSlice",
    "DropSingletonSliced",
    "DropSingletonSliceD",
    "DropSingletonSliceDict",
    "EvaluationReport",
    "ModalityMismatchError",
    "OnnxRuntimeNetwork",
    "PRESENCE_KEY",
    "SegmentationPresenceLoss",
    "SlidingWindowImageHeadInferer",
    "UnpackHeadsd",
    "UnpackHeadsD",
    "UnpackHeadsDict",
    "WithImageHead",
    "RestoreMetaKeysd",
    "RestoreMetaKeysD",
    "RestoreMetaKeysDict",
    "ResumeCheckpointLoader",
    "ScreenCases",
    "TrainingCheckpointSaver",
    "StashMetaKeysd",
    "StashMetaKeysD",
    "StashMetaKeysDict",
    "atomic_write",
    "case_metrics",
    "case_name",
    "class_volumes",
    "default_device",
    "detection_rates",
    "export_onnx",
    "find_datalist",
    "infer_with_image_head",
    "latest_checkpoint",
    "load_datalist_section",
    "load_network",
    "prepare_datalist",
    "read_checkpoint",
    "presence_targets",
    "resolve_bundle_root",
    "root_error",
    "save_label_nifti",
    "save_label_png",
    "save_overlay_png",
    "summarize_cases",
    "write_json",
]
