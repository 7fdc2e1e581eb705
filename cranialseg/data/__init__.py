"""Data lists, datasets, samplers and the screening of cases before training or evaluation."""

from cranialseg.data.datalist import (
    DATALIST_NAMES,
    find_datalist,
    load_datalist_section,
    prepare_datalist,
    require_hc18_datalist,
)
from cranialseg.data.dataset import FilteredCacheDataset, image_spatial_dims, keep_items_of_dims
from cranialseg.data.samplers import distributed_sampler
from cranialseg.data.screening import ScreenCases, case_name, root_error

__all__ = [
    "DATALIST_NAMES",
    "find_datalist",
    "prepare_datalist",
    "load_datalist_section",
    "require_hc18_datalist",
    "FilteredCacheDataset",
    "image_spatial_dims",
    "keep_items_of_dims",
    "distributed_sampler",
    "ScreenCases",
    "case_name",
    "root_error",
]
