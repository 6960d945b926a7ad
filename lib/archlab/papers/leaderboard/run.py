"""The leaderboard's stored run function (one entry at one budget on one seed, trained by the shared recipe) and
``run``: train or load every run of the profile through the run store.

Three ways an entry trains, all through ``archlab.train.fit`` with the same ``TrainConfig``:
- ``fit``: the model as built;
- ``ensemble``: each member fits on its own loss and its own data order (seeds 1000 * seed + k), and the members
  meet only at test time (softmax average): paper 3's protocol for its ensemble baseline;
- ``sensli``: the growing VGG, grown once after ``insert_at`` epochs by paper 4's sensitivity rule (``growth``).
Every run reports the standard columns, its forward FLOPs per image, its training FLOPs (forward + backward of every
training image seen, plus SensLI's sensitivity pass) and its training seconds per epoch on the device used.
"""
from __future__ import annotations

import base64
import math
import statistics

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...data import DeviceLoader, load_splits
from ...runs import Runs, last_quarter_fall
from ...store import versioned
from ...sweep import run_sweep
from ...train import TrainConfig, count_params, fit, resolve_device, seed_everything
from .analysis import run_table
from .budgets import forward_flops, model_step_flops, module_flops, step_flops
from .growth import Inserter
from .meta import STEM
from .models import Growable, build

ENSEMBLE_SEED = 1000  # member k of seed s trains on seed 1000 * s + k (paper 3's convention)


def pooled(module: nn.Module, pool: int) -> nn.Module:
    """``module`` behind a k x k average pool of its input (k = 1: itself): the cpu profile's 16x16 first layer,
    applied after the 32x32 crop and flip so the augmentation keeps its strength."""
    return module if pool == 1 else nn.Sequential(nn.AvgPool2d(pool), module)


def load_data(c: dict):
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in c.get("data_kw", {}).items()}
    return load_splits(c["dataset"], c["train_size"], c["test_size"], 0, **kw)


def _curve(hists: list) -> list[dict]:
    """Per epoch: mean training loss/accuracy and summed seconds over the members (one history: itself)."""
    out = []
    for rows in zip(*(h.epochs for h in hists)):
        mean = lambda k: statistics.fmean(r[k] for r in rows)  # noqa: E731
        out.append(dict(epoch=rows[0]["epoch"], train_loss=mean("train_loss"), train_acc=mean("train_acc"),
                        val_loss=mean("val_loss"), val_acc=mean("val_acc"), seconds=sum(r["seconds"] for r in rows)))
    return out


def test_pass(model: nn.Module, test, device) -> tuple[float, float, str]:
    """(loss, accuracy, correctness bits) of ``model`` on the whole test set in one pass (no augmentation)."""
    loader = DeviceLoader(test, 1024, train=False, device=device)
    model.eval()
    loss, correct = 0.0, []
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss += float(F.cross_entropy(out, y, reduction="sum"))
            correct.append((out.argmax(1) == y).cpu())
    hits = torch.cat(correct).numpy()
    bits = base64.b64encode(np.packbits(hits).tobytes()).decode("ascii")  # archlab.testnoise's format
    return loss / len(hits), float(hits.mean()), bits


def _train(c: dict, net: nn.Module, train, tc: TrainConfig, device, shape) -> tuple[list, dict]:
    """Train ``net`` by the run's method (no test-set evaluation during training); returns (histories, extra)."""
    pool = c["pool"]
    if c["method"] == "ensemble":
        hists = [fit(pooled(m, pool), train, None, tc.replace(seed=ENSEMBLE_SEED * tc.seed + k), device=device)
                 for k, m in enumerate(net.members)]
        return hists, {}
    if c["method"] == "sensli":
        grow = Growable(net)
        params_start, flops_start = count_params(net), forward_flops(c["model"], c["kwargs"], shape)
        inserter = Inserter(grow, train, c["insert_at"], tc.batch_size, tc.seed, nn.AvgPool2d(pool) if pool > 1
                            else nn.Identity(), shape)
        hist = fit(pooled(grow, pool), train, None, tc, device=device, callback=inserter)
        return [hist], dict(params_start=params_start, flops_start=flops_start, **inserter.record)
    return [fit(pooled(net, pool), train, None, tc, device=device)], {}


def train_flops(c: dict, net: nn.Module, extra: dict, images_per_epoch: int, epochs: int, shape) -> float:
    """Forward + backward FLOPs of every training image seen (drop-last batches), plus SensLI's sensitivity pass."""
    if c["method"] != "sensli":
        return float(model_step_flops(c["model"], c["kwargs"], shape)) * images_per_epoch * epochs
    if "position" not in extra:
        return float(step_flops(net, shape)) * images_per_epoch * epochs
    t = extra["insert_epoch"]
    return (float(extra["step_flops_before"]) * images_per_epoch * t + extra["sensitivity_flops"]
            + float(step_flops(net, shape)) * images_per_epoch * (epochs - t))


@versioned(2, name="leaderboard.train")
def train_entry(config: dict) -> dict:
    """Train one entry at its matched width on one seed by the shared recipe; report accuracy, loss, which test
    images it classifies correctly (``archlab.testnoise`` bits: the spread's split), parameters, FLOPs, training
    FLOPs, seconds per epoch and the last-quarter loss fall (shown beside the verdicts).

    Version 2: the test set is seen once, after training (one pass gives loss, accuracy and bits); the run's epochs
    are reported (its config's ``role`` says whether it is a compared seed or the longer probe)."""
    c = config
    train, test = load_data(c)
    shape = (train.sample_shape[0], *(s // c["pool"] for s in train.sample_shape[1:]))
    tc = TrainConfig.from_dict(c["train"])
    device = resolve_device(c["device"])
    seed_everything(tc.seed)
    net = build(c["model"], c["kwargs"], train.num_classes, shape)
    hists, extra = _train(c, net, train, tc, device, shape)
    curve = _curve(hists)
    status = "diverged" if any(h.status != "ok" for h in hists) else "ok"
    test_loss, test_acc, bits = test_pass(pooled(net, c["pool"]), test, device) if status == "ok" else (math.nan,) * 3
    per_epoch = (len(train) // min(tc.batch_size, len(train))) * min(tc.batch_size, len(train))
    secs = [r["seconds"] for r in curve]
    last = curve[-1] if curve else {}
    return dict(status=status, params=count_params(net), flops=forward_flops_of(c, net, extra, shape),
                train_flops=train_flops(c, net, extra, per_epoch, len(curve), shape),
                sec_per_epoch=statistics.median(secs) if secs else math.nan, train_seconds=sum(secs),
                test_acc=test_acc, test_loss=test_loss, test_bits=bits, n_test=len(test),
                epochs=tc.epochs, train_acc=last.get("train_acc", math.nan),
                train_loss=last.get("train_loss", math.nan),
                loss_fall_q4=last_quarter_fall([r["train_loss"] for r in curve]),
                member_acc=[test_pass(pooled(m, c["pool"]), test, device)[1] for m in net.members]
                if c["method"] == "ensemble" and status == "ok" else None,
                diverged_step=next((h.diverged_step for h in hists if h.diverged_step), None),
                history=dict(epochs=curve), **{k: v for k, v in extra.items() if k != "step_flops_before"})


def forward_flops_of(c: dict, net: nn.Module, extra: dict, shape) -> int:
    """Forward FLOPs per image of the trained net (SensLI: after its insertion, counted on the grown net)."""
    if c["method"] == "sensli" and "position" in extra:
        return module_flops(net, shape)
    return forward_flops(c["model"], c["kwargs"], shape)


def run(cfg, store=None, device=None) -> Runs:
    """Every run of the profile through the run store (finished runs load, failures are recorded): ``runs`` the
    sweep (each run's config beside its result, whose ``history`` the loss curves draw) and ``table`` one row per
    run with the standard columns (``analysis.run_table``), which the tables and the verdicts read."""
    sweep = run_sweep(train_entry, cfg.configs(device), store=store, executor=cfg.resolved_executor(),
                      gpus_per_run=cfg.gpus_per_run, desc=STEM)
    return Runs(cfg, runs=sweep, table=run_table(sweep))
