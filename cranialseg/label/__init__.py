"""MONAI Label integration: an app that serves the cranialseg bundles, and the workarounds it needs.

MONAI Label (0.8.5) lives in its own virtual environment (``scripts/setup_label_env.sh`` builds ``.venv-label``)
because it pins numpy < 2 and pydicom 2.4. This package keeps the parts that only need MONAI
(:mod:`~cranialseg.transforms.meta`, :mod:`~cranialseg.label.app_dir`, :mod:`~cranialseg.label.torchvision_shim`
and the ``shims/`` folder the start script puts first on the server's path) importable everywhere;
:mod:`~cranialseg.label.infer`, :mod:`~cranialseg.label.train` and :mod:`~cranialseg.label.app` import
``monailabel`` and are loaded only by the MONAI Label server.
"""

__all__: list = []
