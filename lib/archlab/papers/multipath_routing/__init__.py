"""Notebook 03, paper 3: "End-to-end data-dependent routing in multi-path neural networks" (Tissera et al., NCA 2023).

A VGG-like backbone with m parallel paths per layer and a switchable router between successive layers (none,
static, cross-connections, two readings of cross-prediction), against widening, ensembles, depth, SE and SK
baselines matched in parameters and MACs; whether the routing specialises (MI against a permutation null, CKA,
path ablation); and one net serving two contexts (CIFAR-10 and its colour inversion).

Modules: ``meta`` (STEM, PAPER, TITLE), ``models`` (the multi-path net and its routers), ``baselines`` (single-path,
SE, SK and ensemble baselines, the budget counts and the width search that matches them), ``routing`` (the routing
analyses), ``contexts`` (E6's two-context data and per-domain analyses), ``grid`` (profiles, config, arms, run
configs), ``run`` (the stored run function, and ``run``: every experiment as one ``archlab.runs.Runs``), ``analysis``
(tables), ``noise`` (test-set vs seed noise), ``claims`` (claims, their measures and ``verdicts``), ``plots``
(figures), ``interactive`` (the live view), ``jobs`` (benchmark jobs).
"""
from .meta import PAPER, STEM, TITLE
from .claims import CLAIMS, verdicts
from .grid import PROFILES, Config, make_config
from .jobs import datasets, dry_jobs, jobs
from .run import packing_summary, run

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "packing_summary", "CLAIMS", "verdicts",
           "jobs", "dry_jobs", "datasets"]
