"""archlab: the helper library behind the notebooks of the network-shape paper companion.

One module per concern: ``data`` (datasets and device-resident batches), ``train`` (the training
loop), ``store`` and ``sweep`` (the run database and grid executors), ``config`` and ``profiles``
(notebook parameters), ``plots`` and ``provenance`` (figures with manifests), ``claims`` (verdicts),
``widgets``, ``analysis`` (statistics, gradient paths), ``models`` (one module per paper family) and
``experiments`` (one module per paper: grids per profile and the claim criteria).
"""
__version__ = "0.1.0"

from .models import create_model, list_models, register_model  # noqa: E402,F401
