"""Losses: the segmentation loss joined with the image-level (presence) head."""

from cranialseg.losses.presence import SegmentationPresenceLoss

__all__ = [
    "SegmentationPresenceLoss",
]
