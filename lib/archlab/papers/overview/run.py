"""Train (or load) the harness check's runs with the harness's generic run function."""
from __future__ import annotations

from ...sweep import run_sweep
from ...train import run_training
from .grid import OverviewConfig, configs


def run(cfg: OverviewConfig, store=None):
    """Every harness-check run as the sweep DataFrame (``run_training``'s result columns)."""
    return run_sweep(run_training, configs(cfg), store=store, desc="overview")
