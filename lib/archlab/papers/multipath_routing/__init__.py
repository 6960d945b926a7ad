"""Notebook 03, paper 3: "End-to-end data-dependent routing in multi-path neural networks" (Tissera et al., NCA 2023).

A VGG-like backbone with m parallel paths per layer and a switchable router between successive layers (none,
static, cross-connections, two readings of cross-prediction), against widening, ensembles, depth, SE and SK
baselines matched in parameters and MACs; whether the routing specialises (MI against a permutation null, CKA,
path ablation); and one net serving two contexts (CIFAR-10 and its colour inversion).

Modules: ``models`` (the multi-path net and its routers), ``baselines`` (single-path, SE, SK and ensemble baselines,
the budget counts and the width search that matches them), ``routing`` (the routing analyses), ``contexts`` (E6's
two-context data and per-domain analyses), ``grid`` (profiles, config, arms, run configs), ``run`` (the stored run
function), ``analysis`` (tables), ``claims`` (claims and verdicts), ``plots`` (figures), ``jobs`` (benchmark jobs).
"""
STEM = "03_multipath_routing"
PAPER = "3"  # the claims table groups by paper number
TITLE = ("Tissera, Wijesinghe, Vithanage, Alex Xavier, Fernando, Rodrigo: End-to-End Data-Dependent Routing in "
         "Multi-Path Neural Networks (Neural Computing and Applications 35(17), 2023; arXiv 2107.02450)")

# The modules below read STEM and PAPER from here, so they are imported after them.
from .claims import CLAIMS, verdicts  # noqa: E402
from .grid import PROFILES, Config, make_config  # noqa: E402
from .jobs import datasets, dry_jobs, jobs  # noqa: E402
from .run import packing_summary, run  # noqa: E402

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "packing_summary", "CLAIMS", "verdicts",
           "jobs", "dry_jobs", "datasets"]
