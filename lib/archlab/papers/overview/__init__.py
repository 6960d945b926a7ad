"""Notebook 00: the harness check (a small CNN through the whole pipeline) and every paper's verdicts.

It declares no claims of its own; it collects the papers' (``archlab.papers.all_claims``).
"""
from .claims import CLAIMS, verdicts
from .grid import PROFILES, Config, make_config
from .jobs import datasets, dry_jobs, jobs
from .run import run

STEM = "00_overview"
PAPER = "0"
TITLE = "archlab overview: harness check and every paper's verdicts"

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets"]
