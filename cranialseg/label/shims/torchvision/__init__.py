"""Not torchvision: ``utils.make_grid``/``utils.save_image`` only, for MONAI Label's one import of it.

This folder (``cranialseg/label/shims``) is put first on the MONAI Label server's ``PYTHONPATH`` by
``scripts/start_label_server.sh``; nothing is written into site-packages. See :mod:`cranialseg.label.torchvision_shim`.
"""

__version__ = "0.0.0"
