"""The stored run function and the notebook's sweep."""
from archlab.runs import Runs
from archlab.store import versioned
from archlab.sweep import run_sweep
from archlab.train import run_training

from . import models  # noqa: F401 - registers toy_mlp in every process that runs train (Ray workers too)
from .grid import configs


@versioned(1, name="toy_paper.train")
def train(config: dict) -> dict:
    return run_training(config)


def run(cfg, store=None, device=None) -> Runs:
    df = run_sweep(train, configs(cfg), store=store, desc="toy")
    return Runs(cfg, spirals=df.rename(columns={"val_acc": "test_acc", "val_loss": "test_loss"}))
