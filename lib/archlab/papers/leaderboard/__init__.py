"""Notebook 05: the four papers' architectures on one leaderboard, at equal parameter budgets and one recipe.

Every family the companion has (paper 1's plain, residual, PRN, CSP, VoVNet, ELAN and CSP-ELAN stage bodies; paper
2's sequential and parallel residual stacks; paper 3's multi-path nets with cross-connections and its widening,
SE, SK and ensemble baselines; paper 4's SensLI-grown VGG) is scaled to parameter budgets within 5% and trained on
CIFAR-10 by one shared recipe; accuracy with intervals against parameters, FLOPs and time, and one verdict per
paper on "at equal cost, this design beats the residual baseline".

Modules: ``models`` (the entries: registered models, fixed arguments, how each scales; the growable wrapper),
``budgets`` (matching to a budget, parameter and FLOP counts), ``growth`` (SensLI inside the shared recipe),
``grid`` (recipe, profiles, config, run configs), ``run`` (the stored run function), ``analysis`` (the leaderboard,
ranked tables, Pareto fronts), ``evidence`` (each entry's fit against its longer probe, the test/seed split of each
gap's spread), ``claims`` (claims and verdicts), ``plots`` (figures), ``explore`` (the widgets'
views), ``jobs`` (benchmark and dry-run jobs). Methods note: docs/papers/leaderboard.md.
"""
STEM = "05_leaderboard"
PAPER = "5"  # the claims table groups by notebook number; each claim names the paper whose design it tests
TITLE = ("archlab leaderboard: the designs of papers 1-4 (Wang et al. arXiv 2211.04800; Bermeitinger et al. "
         "arXiv 2309.08414; Tissera et al. arXiv 2107.02450; Kreis et al. arXiv 2311.15995) at equal parameter "
         "budgets on CIFAR-10")

# The modules below read STEM and PAPER from here, so they are imported after them.
from .claims import CLAIMS, verdicts  # noqa: E402
from .grid import PROFILES, Config, make_config  # noqa: E402
from .jobs import datasets, dry_jobs, jobs  # noqa: E402
from .run import run  # noqa: E402

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets"]
