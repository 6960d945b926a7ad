"""Notebook 00: the harness check (a small CNN through the whole pipeline) and every paper's verdicts.

It declares no claims of its own; it collects the papers' (``archlab.papers.all_claims``).
"""
from .meta import PAPER, STEM, TITLE
from .claims import CLAIMS, verdicts
from .grid import PROFILES, Config, make_config
from .jobs import datasets, dry_jobs, jobs
from .run import run

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets"]
