"""``torchvision.utils`` stand-in: the two functions ``monailabel/transform/post.py:32`` imports."""

from cranialseg.label.torchvision_shim import make_grid, save_image

__all__ = ["make_grid", "save_image"]
