"""Paper 3's stored run function (one arm on one seed, trained, evaluated and, for multi-path nets, analysed) and
``run``: every experiment of the notebook, its runs trained or loaded through the run store."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ...models import create_model
from ...runs import Runs
from ...store import RunStore, run_key, versioned
from ...sweep import run_sweep
from ...testnoise import correct_bits
from ...train import TrainConfig, evaluate, fit, seed_everything
from .analysis import overhead
from .arms import label, model_spec, parse
from .baselines import Ensemble, budget
from .contexts import analyse_run, base_dataset, load_run_splits
from .grid import MultipathConfig, run_configs


def _mean_epoch_seconds(hist) -> float:
    """Training seconds per epoch; the last epoch also evaluates, so it is left out when there are others."""
    secs = [e["seconds"] for e in hist.epochs]
    return float(np.mean(secs[:-1] if len(secs) > 1 else secs))


def last_quarter_share(losses) -> float:
    """Share of the whole training-loss decrease that came in the last quarter of the epochs,
    (L[q] - L[E]) / (L[1] - L[E]) with L the epoch-mean training loss and q the epoch at 3/4 of the schedule.

    Not ``archlab.runs.last_quarter_fall``, the harness's relative fall (L[q] - L[E]) / L[q]: this one divides by the
    whole decrease instead of the level, so a net that learned little overall still reads a large share. Every run
    stores it (``loss_share_q4``, part of ``train_arm``'s stored result), so it stays as it was measured; it is
    reported in the summary table and judges no claim (the precondition is "trained", see ``claims``).

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


def _spec(c: dict, classes: int, input_shape: tuple) -> tuple[str, dict]:
    """(registered name, kwargs with the data's classes and input shape) of a run's arm."""
    name, kw = model_spec(c["arm"], c["widths"], c["stem"], c["convs_per_stage"], c["width_mult"],
                          c.get("pool_input", 1))
    return name, {**kw, "num_classes": classes, "input_shape": tuple(input_shape)}


def _build(c: dict, train):
    """(registered name, kwargs with the data's classes and input shape, the seeded model, its cost) of a run: seeded
    before the model is built, and counted before training, the same way whether it trains alone or packed."""
    name, kw = _spec(c, train.num_classes, train.sample_shape)
    seed_everything(c["seed"])
    model = create_model(name, **kw)
    return name, kw, model, budget(model, train.sample_shape)


@versioned(3, name="multipath_routing.train", formerly=("archlab.experiments.multipath_routing.train_arm",))
def train_arm(config: dict) -> dict:
    """Train one arm on one seed, evaluate it on the test set and on the (clean) training set, and (multi-path nets)
    run every routing analysis on the test set; on an E6 set (``<base>+inverted``) also per domain.

    v2: the standard columns (``test_acc``, ``train_acc``, ``train_loss``, ``flops``) and ``loss_share_q4``, the
    convergence check (the largest over an ensemble's members); ``pool_input`` and the new arm names (temperature,
    matched width). v3: ``test_bits``, the per-example test correctness (``archlab.testnoise``), and
    ``n_test``, so a claim's spread splits into test-set and seed parts; the routing analyses on ``analysis_size``
    test images (all when absent); no test pass during training (the history has no validation columns)."""
    c = config
    train, test, domain = load_run_splits(c["dataset"], c["train_size"], c["test_size"])
    _, _, model, cost = _build(c, train)
    tcfg = train_config(c)
    if isinstance(model, Ensemble):
        # Independent training: each member minimises its own loss on its own shuffling; they meet only at test time.
        hists = [fit(mem, train, None, tcfg.replace(seed=1000 * c["seed"] + k), device=c["device"])
                 for k, mem in enumerate(model.members)]
    else:  # no validation set: the test set is evaluated once, after training, by ``_result``
        hists = [fit(model, train, None, tcfg, device=c["device"])]
    return _result(c, model, cost, hists, train, test, domain)


def _result(c: dict, model, cost: dict, hists, train, test, domain, share: int = 1) -> dict:
    """A trained run's stored result; ``share``: how many runs trained together (packed), each taking its share of
    the shared time."""
    diverged = [h for h in hists if h.status != "ok"]
    shares = [last_quarter_share([e["train_loss"] for e in h.epochs]) for h in hists]
    out = {**cost, "flops": 2 * cost["macs"], "status": "diverged" if diverged else "ok", "label": label(c["arm"]),
           "sec_per_epoch": sum(_mean_epoch_seconds(h) for h in hists) / share,
           "wall_time": sum(h.wall_time for h in hists) / share, "packed": share, "loss_share_q4": max(shares),
           "history": [h.to_dict() for h in hists], "n_test": len(test)}
    if diverged:
        nan = float("nan")
        return {**out, "test_acc": nan, "test_loss": nan, "train_acc": nan, "train_loss": nan,
                "diverged_step": diverged[0].diverged_step}
    model.to(c["device"])
    out["test_loss"], out["test_acc"] = evaluate(model, test, device=c["device"])
    out["train_loss"], out["train_acc"] = evaluate(model, train, device=c["device"])
    out["test_bits"] = correct_bits(model, test, device=c["device"])
    sub, dom = analysis_subset(test, domain, c.get("analysis_size"), c.get("analysis_seed", 0))
    out.update(analyse_run(model, sub, dom, device=c["device"], permutations=c["permutations"], seed=c["seed"]))
    return out


def analysis_subset(test, domain, n: int | None, seed: int = 0):
    """The test images the routing analyses read: a fixed random ``n`` of them (every run the same; None: all).
    Accuracy claims use the whole test set; the routing measures (MI against its null, entropy, CKA, ablation) are
    stable on a few thousand images, and each analysis pass (one per ablated path) costs a pass over them.
    ``seed``: E6 draws with its own (``grid.E6_ANALYSIS_SEED``): seed 0's permutation is the one that chose the
    inverted half of each class, so its first ``n`` images would all be inverted."""
    if n is None or n >= len(test):
        return test, domain
    idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return test.take(idx), (domain[idx] if domain is not None else None)


def packable(arm: str) -> bool:
    """Whether an arm's seeds may train packed: every net but the ensemble, which trains its members on seeds of
    their own (routed nets pack through their member axis, ``models.RoutedConv``; SK's branch attention mixes
    members, so ``archlab.packed`` refuses it and its seeds train one at a time)."""
    return arm != "ens2"


def packing_choice_here(c: dict, K: int) -> str | None:
    """The memory format in which K seeds of ``c``'s arm train faster packed than one at a time on this machine,
    measured at one torch thread (how a cpu-profile worker trains; ``archlab.packed_probe.packing_choice``, cached
    per architecture); None: one at a time."""
    from ... import data
    from ...packed_probe import packing_choice

    if K < 2 or not packable(c["arm"]):
        return None
    info = data.dataset_info(base_dataset(c["dataset"]))
    name, kw = _spec(c, info["classes"], info["shape"])
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return packing_choice(name, kw, tuple(info["shape"]), c["batch_size"], K, c["device"])
    finally:
        torch.set_num_threads(old)


def train_arm_packed(configs: list[dict], formats: dict | None = None) -> list[dict]:
    """``train_arm`` for configs that differ only in ``seed``, as an execution strategy (``run_sweep(train_arm, ...,
    group_by="seed", group_fn=train_arm_packed)``: the runs keep ``train_arm``'s keys and result keys). The seeds
    train as one packed network (``archlab.packed_train.train_group``) in the memory format ``formats[(arm,
    dataset)]`` (default contiguous): the sweep decides, once per arm, which groups come here and in which format
    (``packing_choice_here``), so the group is not probed again. An arm that cannot be packed trains one at a
    time."""
    from ...packed_train import train_group

    c = configs[0]
    if len(configs) < 2 or not packable(c["arm"]):
        return [train_arm(cc) for cc in configs]
    train, test, domain = load_run_splits(c["dataset"], c["train_size"], c["test_size"])

    def build(cc, _):
        model, cost = _build(cc, train)[2:]
        return model, (model, cost)

    return train_group(configs, train_arm, train, None, train_config=train_config, build=build,
                       memory_format=(formats or {}).get((c["arm"], c["dataset"]), "contiguous"),
                       result=lambda cc, mc, h, K: _result(cc, *mc, [h], train, test, domain, share=K))


def run(cfg: MultipathConfig, store=None, device=None) -> Runs:
    """Every experiment of the notebook by name: ``arms``, one row per run of every arm on every dataset (trained or
    loaded through the store; failed runs are rows too, with status and error, so the notebook shows them and marks
    their claims "not run"), and ``overhead``, C6's counted CP-conv / CC costs (counted, not trained)."""
    return Runs(cfg, arms=sweep(cfg, run_configs(cfg, device=device), store), overhead=overhead(cfg))


def sweep(cfg: MultipathConfig, configs: list[dict], store=None) -> pd.DataFrame:
    """Run (or load) ``configs``; one row per run with its arm label, in the configs' order."""
    import functools

    from ...packed_train import split_by_packing
    from ...sweep import group_name, pending

    # Decided once per arm and dataset, here, for the runs still to train (a rerun or a render from stored runs
    # probes nothing): an arm's seeds train as one packed group, in the memory format measured faster, where that
    # pays (``train_arm_packed``), every other run is a unit of its own, and all share one sweep's workers. The
    # groups, the longest units, go first, so that the single runs fill the other workers.
    formats = {}

    def pays(c, K):
        formats[(c["arm"], c["dataset"])] = packing_choice_here(c, K) if cfg.packed == "auto" else None
        return formats[(c["arm"], c["dataset"])] is not None

    store = store if store is not None else RunStore()
    todo = pending(train_arm, configs, store)
    grouped, alone = split_by_packing(todo, ("arm", "dataset"), pays)
    packs, todo_keys = {run_key(train_arm, c) for c in grouped}, {run_key(train_arm, c) for c in todo}
    rest = [c for c in configs if run_key(train_arm, c) not in todo_keys]  # stored: loaded
    df = run_sweep(train_arm, grouped + alone + rest, store=store, executor=cfg.resolved_executor(), gpus_per_run=0.25,
                   desc="multipath", group_fn=functools.partial(train_arm_packed, formats=formats),
                   group_by=lambda c: group_name(c, "seed") if run_key(train_arm, c) in packs else None)
    if len(df):
        order = {run_key(train_arm, c): i for i, c in enumerate(configs)}
        df = df.sort_values("key", key=lambda k: k.map(order), kind="stable", ignore_index=True)
        df["label"] = df["arm"].map(label)
    return df


def packing_summary(runs: pd.DataFrame) -> str:
    """Which arms' seeds trained packed (``packed`` > 1: how many together) and their training seconds per run."""
    if runs.empty or "packed" not in runs:
        return "no run trained packed"
    sel = runs[runs["packed"].fillna(1) > 1]
    if sel.empty:
        return "no run trained packed (packing did not pay here for any arm, or the runs were stored)"
    parts = [f"{label(a)} on {d}: {len(g)} runs, {int(g['packed'].max())} together, "
             f"{g['wall_time'].mean():.1f} s training each" for (a, d), g in sel.groupby(["arm", "dataset"])]
    return "trained packed: " + "; ".join(parts)
