"""archlab: the helper library behind the notebooks of the network-shape paper companion.

The harness is flat, one module per concern: ``data`` (datasets and device-resident batches), ``train`` (the
training loop, parameter/FLOP counting), ``batched`` (many seeds in one vmapped step), ``store`` and ``sweep``
(the run database and grid executors), ``config`` and ``profiles`` (notebook parameters), ``stats``, ``outcomes``
and ``claims`` (statistics, outcome rules, the claims table), ``plots``, ``provenance`` and ``notebook`` (figures
with manifests, the per-notebook session), ``widgets``, ``preflight`` and ``dryrun`` (checks before any run), ``run``
(the headless notebook runner) and ``models`` (the registry). Each paper is one package in ``archlab.papers``, all
of the same shape (``docs/adding-a-paper.md``); papers import the harness, never the reverse.
"""
__version__ = "0.1.0"

from .models import create_model, list_models, register_model  # noqa: E402,F401
