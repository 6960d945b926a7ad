"""The notebooks' packages: one per paper (and one for the overview's harness check), all of one shape.

``archlab.papers.<name>/`` holds everything of one notebook, and its ``__init__`` exposes the same public names
in every package, so the runner, the overview, the benchmarks and the tests treat them alike:

=============  =============  ====================================================================================
name           module         what it is
=============  =============  ====================================================================================
``STEM``       ``__init__``   the notebook stem (``"01_gradient_paths"``); results land in ``results/<STEM>/``
``PAPER``      ``__init__``   the paper's number in the claims table (``"1"``; ``"0"`` for the overview)
``TITLE``      ``__init__``   authors, title, venue, as the notebook cites it
``PROFILES``   ``grid``       the settings of each profile (smoke, cpu, gpu, paper), expected run times beside them
``Config``     ``grid``       the frozen notebook config; ``make_config(**params)`` builds it from the parameters
``run``        ``run``        trains (or loads from the run store) every run of the notebook's experiments
``CLAIMS``     ``claims``     the paper's claims with their criteria (changes after results: ``Claim.revised``)
``verdicts``   ``claims``     measured results -> one claims-table row per claim
``jobs``       ``jobs``       ``jobs(profile)``: every training run of a profile as a model + input job (bench, dry run)
``datasets``   ``jobs``       ``datasets(profile)``: those jobs' ``dataset -> optional``, cheaply (the data preflight)
=============  =============  ====================================================================================

Papers import the harness (``archlab.*`` outside this package), never the reverse, and never each other.
``docs/adding-a-paper.md`` is the recipe for a new one.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import re
from types import ModuleType

# Papers kept outside this repository (a lab's own, or the test of docs/adding-a-paper.md) join the registry from
# the folders ``ARCHLAB_PAPERS_PATH`` lists: each holds paper packages, imported as ``archlab.papers.<name>``.
__path__ += [p for p in os.environ.get("ARCHLAB_PAPERS_PATH", "").split(os.pathsep) if p]

REQUIRED = ("STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
            "datasets")


class PaperContractError(TypeError):
    """A paper package lacks one of the public names every paper has."""


def check(paper: ModuleType) -> ModuleType:
    """``paper`` if it exposes every name of :data:`REQUIRED`, else a :class:`PaperContractError` naming them."""
    missing = [n for n in REQUIRED if not hasattr(paper, n)]
    if missing:
        raise PaperContractError(f"paper package {paper.__name__} lacks {missing}; every paper defines {list(REQUIRED)} "
                                 f"(see docs/adding-a-paper.md)")
    return paper


def discover() -> dict[str, ModuleType]:
    """Every package below ``archlab.papers`` (``_``-prefixed ones excepted), checked, in notebook order."""
    found = [check(importlib.import_module(f"{__name__}.{m.name}"))
             for m in pkgutil.iter_modules(__path__) if m.ispkg and not m.name.startswith("_")]
    return {p.__name__.rsplit(".", 1)[-1]: p for p in sorted(found, key=lambda p: p.STEM)}


PAPERS: dict[str, ModuleType] = discover()


def by_stem(stem: str) -> ModuleType:
    """The package of the notebook ``stem`` (``"02_deep_vs_shallow"``)."""
    for p in PAPERS.values():
        if p.STEM == stem:
            return p
    raise KeyError(f"no paper package for notebook {stem!r}; known: {[p.STEM for p in PAPERS.values()]}")


def all_claims() -> list:
    """Every claim every paper declares, in paper order, then C1, C2, ..., C10 (numbers compared as numbers)."""
    def key(c):
        return c.paper, [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", c.id)]

    return sorted((c for p in PAPERS.values() for c in p.CLAIMS), key=key)
