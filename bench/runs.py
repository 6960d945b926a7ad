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
    from archlab import create_model
    from archlab.data import load_splits
    from archlab.train import TrainConfig, count_params, seed_everything

    c = configs[0]
    train, test = load_splits(c["dataset"], c["train_size"], c["test_size"])
    models = []
    for cc in configs:
        seed_everything(cc["seed"])
        models.append(create_model(c["layout"], layers=c["L"], filters=c["F"], kernel=c["k"],
                                   activation=c["activation"], pool=c["pool"], batchnorm=c["batchnorm"],
                                   head=c["head"], input_shape=train.sample_shape, num_classes=train.num_classes))
    device = torch.device(c["device"] if c["device"] != "cuda" or torch.cuda.is_available() else "cpu")
    cfgs = [TrainConfig(epochs=c["epochs"], batch_size=c["batch_size"], lr=c["lr"], weight_decay=c["weight_decay"],
                        seed=cc["seed"]) for cc in configs]
    hists = fit_batched(models, train, test, cfgs, device=device)
    dtype = torch.bfloat16 if device.type == "cuda" else None
    train_loss, train_acc = evaluate_batched(models, train, device=device, dtype=dtype)
    P, K = count_params(models[0]), len(configs)
    out = []
    for k, h in enumerate(hists):
        ok = h.status == "ok"
        out.append({"status": h.status, "P": P, "K": len(train), "Q": len(train) * train.num_classes / P,
                    "sec_per_epoch": statistics.median(e["seconds"] for e in h.epochs) / K, "wall_time": h.wall_time / K,
                    "diverged_step": h.diverged_step, "history": h.to_dict(),
                    "train_loss": train_loss[k] if ok else float("nan"), "train_acc": train_acc[k] if ok else float("nan"),
                    "val_loss": h.final["val_loss"] if ok else float("nan"),
                    "val_acc": h.final["val_acc"] if ok else float("nan")})
    return out
