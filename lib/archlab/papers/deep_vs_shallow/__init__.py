"""Notebook 02, paper 2: "Make Deep Networks Shallow Again" (Bermeitinger, Hrycej, Handschuh, KDIR 2023).

A deep stack of residual conv layers against its first-order truncation, the same layers side by side on one
input with exactly the same parameters, trained from scratch over a grid of depths, widths and kernels on MNIST
and CIFAR-10; the paper's Table 2 (losses binned by the determination ratio Q = K*M/P) beside ours.

Modules: ``models`` (both layouts of one residual body), ``truncation`` (the series expansion and the truncation
error), ``grid`` (profiles, config, run configs), ``run`` (the stored run functions), ``analysis`` (pairs, Table 2,
ratio statistics), ``claims`` (claims and verdicts), ``plots`` (figures), ``speed`` (time per step, executor
throughput), ``jobs`` (benchmark jobs).
"""
STEM = "02_deep_vs_shallow"
PAPER = "2"  # the claims table groups by paper number
TITLE = ("Bermeitinger, Hrycej, Handschuh: Make Deep Networks Shallow Again (KDIR 2023, "
         "DOI 10.5220/0012203800003598, arXiv 2309.08414)")

# The modules below read STEM and PAPER from here, so they are imported after them.
from .claims import CLAIMS, verdicts  # noqa: E402
from .grid import PROFILES, Config, make_config  # noqa: E402
from .jobs import datasets, dry_jobs, jobs  # noqa: E402
from .run import run  # noqa: E402

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets"]
