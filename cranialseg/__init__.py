"""cranialseg: brain segmentation in cranial ultrasound and head CT with MONAI."""

__version__ = "0.2.0"
