"""Train (or load) the harness check's runs with the harness's generic run function."""
from ...runs import Runs
from ...sweep import run_sweep
from ...train import run_training
from .grid import configs


def run(cfg, store=None, device=None) -> Runs:
    """Every harness-check run: ``harness``, the sweep DataFrame (``run_training``'s result columns)."""
    return Runs(cfg, harness=run_sweep(run_training, configs(cfg, device), store=store, desc="overview"))
