"""Notebook 01, paper 1: "Designing Network Design Strategies Through Gradient Path Analysis" (Wang, Liao, Yeh).

A network planned around its backward path: exact gradient-path accounting from torch.fx graphs (Fig. 7, Table 1,
the stacking argument), then CIFAR-scale ablations of stop-gradient, deep VoVNet vs ELAN, CSP fusion and PRN on one
macro with interchangeable stage bodies.

Modules: ``models`` / ``blocks`` (the macro and its stage bodies, the Fig. 7 toy nets), ``paths`` (the exact
path accounting), ``gradients`` (gradient diagnostics on a batch), ``grid`` (profiles, config, run configs), ``run``
(the stored run function), ``analysis`` (E1 tables, run tables, the paper's numbers), ``claims`` (the claims),
``judging`` (verdicts and the test-noise table), ``plots`` (figures), ``jobs`` (benchmark jobs).
"""
STEM = "01_gradient_paths"
PAPER = "1"  # the claims table groups by paper number
TITLE = ("Wang, Liao, Yeh: Designing Network Design Strategies Through Gradient Path Analysis "
         "(arXiv 2211.04800)")

# The modules below read STEM and PAPER from here, so they are imported after them.
from .claims import CLAIMS, verdicts  # noqa: E402
from .judging import noise_table  # noqa: E402
from .grid import PROFILES, Config, make_config  # noqa: E402
from .jobs import datasets, dry_jobs, jobs  # noqa: E402
from .run import run  # noqa: E402

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "noise_table", "jobs",
           "dry_jobs", "datasets"]
