"""Paper 1's stored run functions (one registered model trained, with its static path metrics and gradient
diagnostics; or an architecture's seeds trained together in one vmapped step) and ``run``: E1's exact tables and
every experiment's runs, trained or loaded through the run store.

Experiments (docs/papers/gradient_paths.md): E1 exact path accounting (``static``, not stored: recomputed in
seconds), E2 stop-gradient (Table 3), E3 stacking VoVNet / VoVNet re-planned / ELAN / ResNet (Table 4), E4 CSP
fusion (Table 6), E5 PRN (Table 5), E6 the Table 8 summary at equal FLOPs. Profiles, grids and run times: ``grid``.
"""
from __future__ import annotations

import json
import math

from ...runs import Runs
from ...store import versioned
from ...sweep import run_sweep
from .models import FIXED_BODIES  # noqa: F401  (importing models registers the gp_* models)
from .static import fig7_table, shift_table, stacking_table, table1_slopes
from .analysis import label_runs
from .grid import EXPERIMENTS, GradPathConfig, experiment_plan

DESCRIPTIONS = {"e2": "E2 stop-gradient", "e3": "E3 stacking", "e456": "E4-E6 CSP / PRN / summary"}
GROUP_BY = "train.seed"  # what the configs of one batched group differ in
# E2's cell also trains E3's runs (they share ResNet-56): E2 alone is three seed groups, which leave one of the cpu
# profile's two single-thread workers idle for a third of it when each group trains as one packed network.
TRAIN_WITH = {"e2": "e3"}


def _prepare(config: dict, train, seed: int):
    """The model of ``config`` (seeded), its cost and static paths, and its gradient diagnostics at init."""
    from ...data import DeviceLoader
    from ...models import create_model
    from ...train import count_flops, count_params, seed_everything
    from .paths import analyse

    device = config.get("device", "cpu")
    seed_everything(seed)
    model = create_model(config["model"], num_classes=train.num_classes, input_shape=train.sample_shape,
                         **config["model_kwargs"])
    params, flops = count_params(model), count_flops(model, train.sample_shape)
    paths = analyse(model, train.sample_shape)
    model.to(device)
    n = config.get("diag_size", 128)
    batch = next(iter(DeviceLoader(train.subset(n, seed=1), n, train=False, device=device)))
    rho = config["model_kwargs"].get("rho", 0.5) if config["model"] == "gp_prn" else None  # gp_prn's default
    return dict(model=model, params=params, flops=flops, paths=paths, batch=batch, rho=rho,
                diag_init=diagnostics(model, *batch, rho))


def _result(prep: dict, hist, sec_per_epoch: float, test) -> dict:
    """One run's stored result: accuracies, cost, static path metrics, gradient diagnostics, the history, and the
    per-example test correctness (``archlab.testnoise``; from the member's own model after a packed or batched
    group is unpacked) that splits a paired accuracy difference into test-set and seed noise."""
    from ...testnoise import correct_bits

    last, paths, ok = hist.final, prep["paths"], hist.status == "ok"
    diag_final = diagnostics(prep["model"], *prep["batch"], prep["rho"]) if ok else None
    bits = correct_bits(prep["model"], test) if ok and test is not None else None
    return {"status": hist.status, "params": prep["params"], "flops": prep["flops"], "test_acc": last.get("val_acc"),
            "test_loss": last.get("val_loss"), "train_loss": last.get("train_loss"), "train_acc": last.get("train_acc"),
            "max_shortest": paths.longest_shortest, "longest_path": paths.longest, "combinations": paths.combinations,
            "sim_init": prep["diag_init"]["sim_mean"], "sim_final": diag_final["sim_mean"] if diag_final else math.nan,
            "sec_per_epoch": sec_per_epoch, "diverged_step": hist.diverged_step,
            "history": hist.to_dict(), "paths": paths.layers.drop(columns="timestamps").to_dict("list"),
            "diag_init": prep["diag_init"], "diag_final": diag_final,
            "test_bits": bits, "n_test": len(test) if test is not None else 0}


@versioned(2, name="gradient_paths.train", formerly=("archlab.experiments.gradient_paths.train_run",))
def train_run(config: dict) -> dict:
    """Train one registered model and return accuracies, cost, static path metrics and gradient diagnostics."""
    from ...data import load_splits
    from ...train import TrainConfig, fit

    cfg = TrainConfig.from_dict(config["train"])
    train, test = load_splits(config["dataset"], config.get("train_size"), config.get("test_size"),
                              config.get("data_seed", 0))
    prep = _prepare(config, train, cfg.seed)
    hist = fit(prep["model"], train, test, cfg, device=config.get("device", "cpu"))
    return _result(prep, hist, hist.wall_time / max(1, len(hist.epochs)), test)


@versioned(2, name="gradient_paths.train_batched")
def train_run_batched(configs: list[dict]) -> list[dict]:
    """``train_run`` for configs that differ only in the seed, trained in one vmapped step (``archlab.batched``);
    same result keys, ``sec_per_epoch`` is each run's share of the group's time. A group of one, or a model vmap
    cannot train, runs through ``train_run`` one config at a time."""
    from ...batched import NotBatchable, fit_batched

    if len(configs) == 1:
        return [train_run(configs[0])]
    return _train_group(configs, fit_batched, NotBatchable)


def train_run_packed(configs: list[dict]) -> list[dict]:
    """``train_run`` for configs that differ only in the seed, as an execution strategy (``run_sweep(train_run, ...,
    group_by=GROUP_BY, group_fn=train_run_packed)``: the runs keep ``train_run``'s keys and result keys): the seeds
    train as one packed network (``archlab.packed_train``) when a side-by-side probe on this machine measures more
    seeds per second that way (``packed_probe.packing_choice``), else one at a time through ``train_run``, as does a model that
    cannot be packed. ``sec_per_epoch`` is each run's share of the group's time."""
    from ...packed_train import NotPackable, fit_packed

    return _train_group(configs, fit_packed, NotPackable, probe=True)


def _train_group(configs: list[dict], fit_group, refused: type, probe: bool = False) -> list[dict]:
    """The runs of ``configs`` (one architecture, differing in seed) trained together by ``fit_group``
    (``fit_batched`` or ``fit_packed``) on the data they share (``archlab.packed_train.train_group``); one at a
    time through ``train_run`` when ``probe`` measures the group slower packed or ``fit_group`` raises ``refused``."""
    from ...data import load_splits
    from ...packed_train import share_seconds, train_group
    from ...train import TrainConfig

    c = configs[0]
    train, test = load_splits(c["dataset"], c.get("train_size"), c.get("test_size"), c.get("data_seed", 0))

    def build(cc, tcfg):
        prep = _prepare(cc, train, tcfg.seed)
        return prep["model"], prep

    def spec(cc):
        return cc["model"], {**cc["model_kwargs"], "num_classes": train.num_classes, "input_shape": train.sample_shape}

    return train_group(configs, train_run, train, test, train_config=lambda cc: TrainConfig.from_dict(cc["train"]),
                       build=build, spec=spec if probe else None, fit_group=fit_group, refused=refused,
                       result=lambda cc, prep, h, K: _result(prep, h, share_seconds(h, K), test))


def diagnostics(model, x, y, rho=None) -> dict:
    """Per-layer gradient norms and block-gradient similarity as plain data for the run store."""
    from .gradients import block_gradient_similarity, mean_offdiag, weight_grad_norms

    x = x.to(next(model.parameters()).dtype)  # a model trained in fp64 (the batched-vs-separate test) reads fp64
    sims = block_gradient_similarity(model, x, y, channel_split=rho)
    whole = [mean_offdiag(m) for k, m in sims.items() if "/" not in k]
    whole = [v for v in whole if not math.isnan(v)]
    return {"grad_norms": weight_grad_norms(model, x, y).to_dict("list"),
            "similarity": {k: m.to_numpy().tolist() for k, m in sims.items()},
            "sim_mean": sum(whole) / len(whole) if whole else math.nan}


def run_function(p: dict):
    """The run function whose stored runs a plan reads: batched by seed (gpu, paper) or one at a time."""
    return train_run_batched if p["batched"] else train_run


def run(cfg: GradPathConfig, store=None, device=None) -> Runs:
    """Everything the notebook shows and ``verdicts`` judges, by name: E1's exact tables (``fig7``; ``toy`` and
    ``slopes``, Table 1; ``stack`` and ``shifts``, the macro's stacking) and the labelled runs of E2, E3 and E4-E6
    (``e2``, ``e3``, ``e456``), each trained or loaded through ``store`` on ``device`` (default: the profile's).

    A run table has the sweep's columns plus ``family``, ``blocks``, ``widths``, ``point``, ``rho``, ``seed``, ``k``
    and ``acc``: the test accuracy, chance (0.1) for a diverged run and NaN for a failed one, so diverged runs stay in
    every table and figure instead of silently dropping out. When every run failed (a missing dataset, say) the table
    still has every column, each run with its status and error (``archlab.runs.failures``)."""
    p = cfg.plan(device)
    ks = range(1, p["path_ks"] + 1)
    toy, slopes = table1_slopes()
    return Runs(cfg, fig7=fig7_table(), toy=toy, slopes=slopes, stack=stacking_table(p["widths"], ks),
                shifts=shift_table(p["widths"], ks[:-1]),
                **{name: _experiment(p, store, name) for name in EXPERIMENTS})


def _experiment(p: dict, store, experiment: str):
    """Train (or load) one experiment's runs and label them (``analysis.label_runs``)."""
    fn = run_function(p)
    packed = p.get("packed", False) and fn is train_run  # same runs and keys, seeds trained as one packed net
    sweep = dict(store=store, executor=p["executor"], group_by=GROUP_BY if fn is train_run_batched or packed else None,
                 group_fn=train_run_packed if packed else None)
    if experiment in TRAIN_WITH:  # train the partner's runs in the same sweep; the partner's sweep then loads them
        both = {json.dumps(c, sort_keys=True, default=str): c for e in (experiment, TRAIN_WITH[experiment])
                for c in EXPERIMENTS[e](p)}
        run_sweep(fn, list(both.values()), desc=DESCRIPTIONS[experiment] + f" (+ {TRAIN_WITH[experiment]})", **sweep)
    df = run_sweep(fn, EXPERIMENTS[experiment](p), desc=DESCRIPTIONS[experiment], **sweep)
    return label_runs(df, experiment_plan(p, experiment))
