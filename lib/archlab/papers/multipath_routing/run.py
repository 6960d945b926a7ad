"""Paper 3's stored run function (one arm on one seed, trained, evaluated and, for multi-path nets, analysed) and
``run``: train or load every run of the notebook through the run store."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...models import create_model
from ...store import versioned
from ...sweep import run_sweep
from ...train import TrainConfig, evaluate, fit, seed_everything
from . import contexts as mx
from .arms import label, model_spec
from .baselines import Ensemble, budget
from .grid import MultipathConfig, run_configs


def _mean_epoch_seconds(hist) -> float:
    """Training seconds per epoch; the last epoch also evaluates, so it is left out when there are others."""
    secs = [e["seconds"] for e in hist.epochs]
    return float(np.mean(secs[:-1] if len(secs) > 1 else secs))


def last_quarter_share(losses) -> float:
    """Share of the whole training-loss decrease that came in the last quarter of the epochs,
    (L[q] - L[E]) / (L[1] - L[E]) with L the epoch-mean training loss and q the epoch at 3/4 of the schedule.

    The convergence precondition of every accuracy claim: a net still learning at a steady rate when the schedule
    ends gains about a quarter or more of its decrease there (0.31-0.32 measured for MP2-CC and SP-deeper at 5 cpu
    epochs), one that has levelled off much less (0.04-0.08 at 20); comparing nets cut short measures training speed,
    not the architecture. A cosine schedule anneals in that quarter too, so its share is never zero. 1.0 when the
    loss did not fall at all (it never learned); NaN with fewer than 3 epochs or a non-finite loss."""
    v = np.asarray(losses, dtype=float)
    if len(v) < 3 or not np.isfinite(v).all():
        return math.nan
    q = (3 * len(v)) // 4 - 1  # 0-based index of epoch floor(3E/4), >= 1 for E >= 3
    total = v[0] - v[-1]
    return float((v[q] - v[-1]) / total) if total > 0 else 1.0


def train_config(c: dict) -> TrainConfig:
    """The shared recipe of every arm: SGD with Nesterov momentum, cosine schedule, augmentation, evaluated at the end."""
    return TrainConfig(epochs=c["epochs"], batch_size=c["batch_size"], optimizer="sgd", lr=c["lr"], momentum=0.9,
                       nesterov=True, weight_decay=5e-4, schedule="cosine", warmup_epochs=c["warmup_epochs"],
                       augment=True, seed=c["seed"], eval_every=c["epochs"])


@versioned(2, name="multipath_routing.train", formerly=("archlab.experiments.multipath_routing.train_arm",))
def train_arm(config: dict) -> dict:
    """Train one arm on one seed, evaluate it on the test set and on the (clean) training set, and (multi-path nets)
    run every routing analysis on the test set; on an E6 set (``<base>+inverted``) also per domain.

    v2: the standard columns (``test_acc``, ``train_acc``, ``train_loss``, ``flops``) and ``loss_share_q4``, the
    convergence check (the largest over an ensemble's members); ``pool_input`` and the new arm names (temperature,
    matched width)."""
    c = config
    train, test, domain = mx.load_run_splits(c["dataset"], c["train_size"], c["test_size"])
    name, kw = model_spec(c["arm"], c["widths"], c["stem"], c["convs_per_stage"], c["width_mult"],
                          c.get("pool_input", 1))
    seed_everything(c["seed"])
    model = create_model(name, num_classes=train.num_classes, in_chans=train.sample_shape[0], **kw)
    cost = budget(model, train.sample_shape)
    tcfg = train_config(c)
    if isinstance(model, Ensemble):
        # Independent training: each member minimises its own loss on its own shuffling; they meet only at test time.
        hists = [fit(mem, train, test, tcfg.replace(seed=1000 * c["seed"] + k), device=c["device"])
                 for k, mem in enumerate(model.members)]
    else:
        hists = [fit(model, train, test, tcfg, device=c["device"])]
    diverged = [h for h in hists if h.status != "ok"]
    shares = [last_quarter_share([e["train_loss"] for e in h.epochs]) for h in hists]
    out = {**cost, "flops": 2 * cost["macs"], "status": "diverged" if diverged else "ok", "label": label(c["arm"]),
           "sec_per_epoch": sum(_mean_epoch_seconds(h) for h in hists), "wall_time": sum(h.wall_time for h in hists),
           "loss_share_q4": max(shares), "history": [h.to_dict() for h in hists]}
    if diverged:
        nan = float("nan")
        return {**out, "test_acc": nan, "test_loss": nan, "train_acc": nan, "train_loss": nan,
                "diverged_step": diverged[0].diverged_step}
    model.to(c["device"])
    out["test_loss"], out["test_acc"] = evaluate(model, test, device=c["device"])
    out["train_loss"], out["train_acc"] = evaluate(model, train, device=c["device"])
    out.update(mx.analyse_run(model, test, domain, device=c["device"], permutations=c["permutations"], seed=c["seed"]))
    return out


def run(cfg: MultipathConfig, store=None, configs: list[dict] | None = None) -> pd.DataFrame:
    """Run (or load) every planned run (or ``configs``); one row per run with its arm label. Failed runs are rows
    too (status and error), so the notebook can show them and mark their claims "not run"."""
    configs = run_configs(cfg) if configs is None else configs
    df = run_sweep(train_arm, configs, store=store, executor=cfg.run_executor, gpus_per_run=0.25, desc="multipath")
    if len(df):
        df["label"] = df["arm"].map(label)
    return df
