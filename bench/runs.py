"""The deep-vs-shallow run function (``archlab.experiments.deep_vs_shallow.train_run``) for a group of seeds
trained in one batched step, so the sweep benchmark compares executors on the paper's own run definition."""
from __future__ import annotations

import statistics

import torch

from archlab.batched import evaluate_batched, fit_batched
from archlab.store import versioned


@versioned(1)
def train_run_batched(configs: list[dict]) -> list[dict]:
    """``train_run`` for configs that differ only in ``seed``; same result keys. ``sec_per_epoch`` and
    ``wall_time`` are each run's share of the group's time."""
    from archlab.data import load_splits
    from archlab.experiments.deep_vs_shallow import build_model, run_device, run_result, train_config
    from archlab.train import count_params, seed_everything

    c = configs[0]
    train, test = load_splits(c["dataset"], c["train_size"], c["test_size"])
    models = []
    for cc in configs:
        seed_everything(cc["seed"])
        models.append(build_model(c, train))
    device = run_device(c)
    hists = fit_batched(models, train, test, [train_config(c, seed=cc["seed"]) for cc in configs], device=device)
    dtype = torch.bfloat16 if device.type == "cuda" else None
    train_loss, train_acc = evaluate_batched(models, train, device=device, dtype=dtype)
    P, K = count_params(models[0]), len(configs)
    return [run_result(h, P, train, (train_loss[k], train_acc[k]),
                       statistics.median(e["seconds"] for e in h.epochs) / K, h.wall_time / K)
            for k, h in enumerate(hists)]
