"""A tiny paper made by following docs/adding-a-paper.md, for tests/harness/test_adding_a_paper.py.

It claims that a two-layer MLP learns the two spirals better than chance. The test puts this folder's parent on
``ARCHLAB_PAPERS_PATH``, so the registry finds the package without any change to the harness or bench/.
"""
from .claims import CLAIMS, verdicts
from .grid import PROFILES, Config, make_config
from .jobs import datasets, jobs
from .meta import PAPER, STEM, TITLE
from .run import run

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "datasets"]
