"""Notebook 05: the four papers' architectures on one leaderboard, at equal parameter budgets and one recipe.

Every family the companion has (paper 1's plain, residual, PRN, CSP, VoVNet, ELAN and CSP-ELAN stage bodies; paper
2's sequential and parallel residual stacks; paper 3's multi-path nets with cross-connections and its widening,
SE, SK and ensemble baselines; paper 4's SensLI-grown VGG) is scaled to parameter budgets within 5% and trained on
CIFAR-10 by one shared recipe; accuracy with intervals against parameters, FLOPs and time, and one verdict per
paper on "at equal cost, this design beats the residual baseline".

Modules: ``meta`` (its names; the paper it reuses), ``models`` (the entries: registered models, fixed arguments, how each scales; the growable wrapper),
``budgets`` (matching to a budget, parameter and FLOP counts), ``growth`` (SensLI inside the shared recipe),
``grid`` (recipe, profiles, config, run configs), ``run`` (the stored run function), ``analysis`` (the leaderboard,
ranked tables, Pareto fronts), ``evidence`` (each entry's fit against its longer probe, the test/seed split of each
gap's spread), ``claims`` (claims and verdicts), ``plots`` (figures), ``explore`` (the widgets'
views), ``jobs`` (benchmark and dry-run jobs). Methods note: docs/papers/leaderboard.md.
"""
from .meta import PAPER, STEM, TITLE
from .claims import CLAIMS, verdicts
from .grid import PROFILES, Config, make_config
from .jobs import datasets, dry_jobs, jobs
from .run import run

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets"]
