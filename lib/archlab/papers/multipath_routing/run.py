"""Paper 3's stored run function (one arm on one seed, trained, evaluated and, for multi-path nets, analysed) and
``run``: train or load every run of the notebook through the run store."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...models import create_model
from ...store import versioned
from ...sweep import run_sweep
from ...train import TrainConfig, evaluate, fit, seed_everything
from . import contexts as mx
from .baselines import Ensemble, budget
from .grid import MultipathConfig, label, model_spec, run_configs


def _mean_epoch_seconds(hist) -> float:
    """Training seconds per epoch; the last epoch also evaluates, so it is left out when there are others."""
    secs = [e["seconds"] for e in hist.epochs]
    return float(np.mean(secs[:-1] if len(secs) > 1 else secs))


@versioned(1, name="multipath_routing.train", formerly=("archlab.experiments.multipath_routing.train_arm",))
def train_arm(config: dict) -> dict:
    """Train one arm on one seed, evaluate it, and (multi-path nets) run every routing analysis on the test set;
    on an E6 set (``<base>+inverted``) also per domain, with MI(domain; routing) beside MI(class; routing)."""
    c = config
    train, test, domain = mx.load_run_splits(c["dataset"], c["train_size"], c["test_size"])
    name, kw = model_spec(c["arm"], c["widths"], c["stem"], c["convs_per_stage"], c["width_mult"])
    seed_everything(c["seed"])
    model = create_model(name, num_classes=train.num_classes, in_chans=train.sample_shape[0], **kw)
    cost = budget(model, train.sample_shape)
    tcfg = TrainConfig(epochs=c["epochs"], batch_size=c["batch_size"], optimizer="sgd", lr=c["lr"], momentum=0.9,
                       nesterov=True, weight_decay=5e-4, schedule="cosine", warmup_epochs=c["warmup_epochs"],
                       augment=True, seed=c["seed"], eval_every=c["epochs"])
    if isinstance(model, Ensemble):
        # Independent training: each member minimises its own loss on its own shuffling; they meet only at test time.
        hists = [fit(mem, train, test, tcfg.replace(seed=1000 * c["seed"] + k), device=c["device"])
                 for k, mem in enumerate(model.members)]
    else:
        hists = [fit(model, train, test, tcfg, device=c["device"])]
    diverged = [h for h in hists if h.status != "ok"]
    out = {**cost, "status": "diverged" if diverged else "ok", "label": label(c["arm"]),
           "sec_per_epoch": sum(_mean_epoch_seconds(h) for h in hists), "wall_time": sum(h.wall_time for h in hists),
           "history": [h.to_dict() for h in hists]}
    if diverged:
        return {**out, "acc": float("nan"), "test_loss": float("nan"), "diverged_step": diverged[0].diverged_step}
    model.to(c["device"])
    out["test_loss"], out["acc"] = evaluate(model, test, device=c["device"])
    out.update(mx.analyse_run(model, test, domain, device=c["device"], permutations=c["permutations"], seed=c["seed"]))
    return out


def run(cfg: MultipathConfig, store=None) -> pd.DataFrame:
    """Run (or load) every planned run; one row per run with its arm label and experiment-independent columns."""
    df = run_sweep(train_arm, run_configs(cfg), store=store, executor=cfg.run_executor, gpus_per_run=0.25,
                   desc="multipath")
    df["label"] = df["arm"].map(label)
    return df
