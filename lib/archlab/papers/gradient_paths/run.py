"""Paper 1's stored run function (one registered model trained, with its static path metrics and gradient
diagnostics) and ``run``: train or load one experiment's runs through the run store.

Experiments (spec section 9): E1 exact path accounting (``analysis``, not stored: recomputed in seconds), E2
stop-gradient (Table 3), E3 stacking VoVNet / VoVNet re-planned / ELAN / ResNet (Table 4), E4 CSP fusion (Table 6),
E5 PRN (Table 5), E6 the Table 8 summary (same widths, plus ELAN and CSP widened to ResNet's FLOPs).
Profiles, grids and expected run times: ``grid``.
"""
from __future__ import annotations

import math

from ...store import versioned
from ...sweep import run_sweep
from . import models  # noqa: F401  (registers the gp_* models)
from .analysis import label_runs
from .grid import EXPERIMENTS, GradPathConfig

DESCRIPTIONS = {"e2": "E2 stop-gradient", "e3": "E3 stacking", "e456": "E4-E6 CSP / PRN / summary"}


@versioned(1, name="gradient_paths.train", formerly=("archlab.experiments.gradient_paths.train_run",))
def train_run(config: dict) -> dict:
    """Train one registered model and return accuracies, cost, static path metrics and gradient diagnostics."""
    from ...data import DeviceLoader, load_splits
    from ...models import create_model
    from ...train import TrainConfig, count_flops, count_params, fit, seed_everything
    from .paths import analyse

    cfg = TrainConfig.from_dict(config["train"])
    device = config.get("device", "cpu")
    train, test = load_splits(config["dataset"], config.get("train_size"), config.get("test_size"),
                              config.get("data_seed", 0))
    seed_everything(cfg.seed)
    model = create_model(config["model"], num_classes=train.num_classes, in_chans=train.sample_shape[0],
                         **config["model_kwargs"])
    params, flops = count_params(model), count_flops(model, train.sample_shape)
    paths = analyse(model, train.sample_shape)
    model.to(device)
    xb, yb = next(iter(DeviceLoader(train.subset(config.get("diag_size", 128), seed=1), config.get("diag_size", 128),
                                    train=False, device=device)))
    rho = config["model_kwargs"].get("rho", 0.5) if config["model"] == "gp_prn" else None  # gp_prn's default
    diag_init = diagnostics(model, xb, yb, rho)
    hist = fit(model, train, test, cfg, device=device)
    last = hist.final
    diag_final = diagnostics(model, xb, yb, rho) if hist.status == "ok" else None
    return {"status": hist.status, "params": params, "flops": flops, "test_acc": last.get("val_acc"),
            "test_loss": last.get("val_loss"), "train_loss": last.get("train_loss"), "train_acc": last.get("train_acc"),
            "max_shortest": paths.longest_shortest, "longest_path": paths.longest, "combinations": paths.combinations,
            "sim_init": diag_init["sim_mean"], "sim_final": diag_final["sim_mean"] if diag_final else math.nan,
            "sec_per_epoch": hist.wall_time / max(1, len(hist.epochs)), "diverged_step": hist.diverged_step,
            "history": hist.to_dict(), "paths": paths.layers.drop(columns="timestamps").to_dict("list"),
            "diag_init": diag_init, "diag_final": diag_final}


def diagnostics(model, x, y, rho=None) -> dict:
    """Per-layer gradient norms and block-gradient similarity as plain data for the run store."""
    from .gradients import block_gradient_similarity, mean_offdiag, weight_grad_norms

    sims = block_gradient_similarity(model, x, y, channel_split=rho)
    whole = [mean_offdiag(m) for k, m in sims.items() if "/" not in k]
    whole = [v for v in whole if not math.isnan(v)]
    return {"grad_norms": weight_grad_norms(model, x, y).to_dict("list"),
            "similarity": {k: m.to_numpy().tolist() for k, m in sims.items()},
            "sim_mean": sum(whole) / len(whole) if whole else math.nan}


def run(cfg: GradPathConfig, store=None, experiment: str = "e2"):
    """Train (or load) one experiment's runs (``"e2"``, ``"e3"`` or ``"e456"``) and label them; returns the sweep
    DataFrame with ``family``, ``blocks``, ``widths``, ``matched``, ``seed``, ``k`` and ``acc`` added.

    ``acc`` is the test accuracy, chance (0.1) for a diverged run and NaN for a failed one, so diverged
    runs stay in every table and figure instead of silently dropping out.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {list(EXPERIMENTS)}")
    p = cfg.plan()
    df = run_sweep(train_run, EXPERIMENTS[experiment](p), store=store, executor=p["executor"],
                   desc=DESCRIPTIONS[experiment])
    return label_runs(df, p)
