"""Inferers: sliding-window inference that also returns the image-level head."""

from cranialseg.inferers.image_head import SlidingWindowImageHeadInferer, WithImageHead, infer_with_image_head

__all__ = [
    "WithImageHead",
    "infer_with_image_head",
    "SlidingWindowImageHeadInferer",
]
