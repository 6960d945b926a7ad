"""Notebook 01, paper 1: "Designing Network Design Strategies Through Gradient Path Analysis" (Wang, Liao, Yeh).

A network planned around its backward path: exact gradient-path accounting from torch.fx graphs (Fig. 7, Table 1,
the stacking argument), then CIFAR-scale ablations of stop-gradient, deep VoVNet vs ELAN, CSP fusion and PRN on one
macro with interchangeable stage bodies.

Modules: ``meta`` (STEM, PAPER, TITLE), ``models`` / ``blocks`` (the macro and its stage bodies, the Fig. 7 toy
nets), ``paths`` (the exact path accounting), ``gradients`` (gradient diagnostics on a batch), ``grid`` (profiles,
config, run configs), ``run`` (the stored run functions and ``run``: E1's tables and E2-E6's runs as one
``archlab.runs.Runs``), ``analysis`` (run tables, the paper's numbers), ``static`` (E1's exact tables), ``claims``
(the claims), ``judging`` (verdicts and the test-noise table), ``plots`` (figures), ``jobs`` (benchmark jobs).
"""
from .meta import PAPER, STEM, TITLE
from .claims import CLAIMS
from .grid import PROFILES, Config, make_config
from .jobs import datasets, dry_jobs, jobs
from .judging import noise_table, verdicts
from .run import run

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "noise_table",
           "jobs", "dry_jobs", "datasets"]
