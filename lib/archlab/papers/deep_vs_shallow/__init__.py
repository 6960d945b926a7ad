"""Notebook 02, paper 2: "Make Deep Networks Shallow Again" (Bermeitinger, Hrycej, Handschuh, KDIR 2023).

A deep stack of residual conv layers against its first-order truncation, the same layers side by side on one
input with exactly the same parameters, trained from scratch over a grid of depths, widths and kernels on MNIST
and CIFAR-10; the paper's Table 2 (losses binned by the determination ratio Q = K*M/P) beside ours.

Modules: ``meta`` (STEM, PAPER, TITLE), ``models`` (both layouts of one residual body), ``truncation`` (the series
expansion and the truncation error), ``grid`` (profiles, config, run configs), ``run`` (the stored run functions, the
time per step, and ``run``: everything the notebook and the verdicts read), ``analysis`` (pairs, Table 2, ratio
statistics), ``claims`` (claims and verdicts), ``plots`` (figures), ``speed`` (executor throughput), ``jobs``
(benchmark jobs).
"""
from .meta import PAPER, STEM, TITLE
from .claims import CLAIMS, verdicts
from .grid import PROFILES, Config, make_config
from .jobs import datasets, dry_jobs, jobs
from .run import run

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets"]
