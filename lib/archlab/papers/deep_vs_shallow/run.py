"""Paper 2's stored run functions (one layout trained from scratch per run, or the seeds and learning rates of one
architecture in one vmapped step), the time per training step of both layouts, and ``run``: train or load the
profile's grid through the run store and measure what the verdicts read beside it."""
from __future__ import annotations

import logging
import statistics

import pandas as pd
import torch
import torch.nn.functional as F

from ...batched import NotBatchable, evaluate_batched, fit_batched
from ...data import load_splits
from ...models import create_model
from ...runs import Runs
from ...provenance import device_name
from ...store import measured, versioned
from ...sweep import run_sweep
from ...train import TrainConfig, autocast_dtype, count_params, evaluate, fit, resolve_device, seed_everything
from .analysis import depth_pairs, pair_runs, truncation_check
from .grid import FACTORS, SHAPES, DeepShallowConfig, depth_set, model_kwargs, repeats, schedule
from .meta import STEM

GROUP_BY = ("seed", "lr")  # what the configs of one batched group may differ in


def build_model(c: dict, train):
    """The run's layout, built for the data's shape and classes."""
    return create_model(c["layout"], **model_kwargs(c, train.sample_shape, train.num_classes))


def train_config(c: dict, n_train: int, seed: int | None = None) -> TrainConfig:
    """The run's training settings on ``n_train`` samples: as many whole epochs as ``grid.schedule`` gives (a
    fixed step budget whatever K is), the test set evaluated ``grid.EVALS`` times; ``precision`` is in a config
    only where it is not the default (tests)."""
    s = schedule(c, n_train)
    return TrainConfig(epochs=s["epochs"], batch_size=min(c["batch_size"], n_train), lr=c["lr"],
                       weight_decay=c["weight_decay"], seed=c["seed"] if seed is None else seed,
                       precision=c.get("precision", "auto"), eval_every=s["eval_every"])


def tiled(c: dict, train):
    """The training stream of a run: ``grid.repeats`` copies of the K samples per epoch (shuffled together)."""
    r = repeats(c, len(train))
    return train if r == 1 else train.take(torch.arange(len(train)).repeat(r))


def run_result(hist, P: int, train, train_metrics: tuple, sec_per_epoch: float, wall_time: float) -> dict:
    """One run's stored result: P, Q = K*M/P, final losses and accuracies (NaN unless it finished) and timing,
    under the standard names (test_loss / test_acc) and the paper's (val_loss / val_acc: its validation set is
    our held-out test set)."""
    ok = hist.status == "ok"
    nan = float("nan")
    return {"status": hist.status, "P": P, "K": len(train), "Q": len(train) * train.num_classes / P,
            "sec_per_epoch": sec_per_epoch, "wall_time": wall_time, "seconds": wall_time, "params": P,
            "epochs_run": len(hist.epochs), "diverged_step": hist.diverged_step,
            "history": hist.to_dict(), "train_loss": train_metrics[0] if ok else nan,
            "train_acc": train_metrics[1] if ok else nan, "val_loss": hist.final["val_loss"] if ok else nan,
            "val_acc": hist.final["val_acc"] if ok else nan,
            "test_loss": hist.final["val_loss"] if ok else nan, "test_acc": hist.final["val_acc"] if ok else nan}


@versioned(2, name="deep_vs_shallow.train", formerly=("archlab.experiments.deep_vs_shallow.train_run",))
def train_run(config: dict) -> dict:
    """Train one layout from scratch and report P, Q, final train/val loss and accuracy and seconds per epoch.

    The final training loss is re-evaluated on the whole training set with the final weights (not the running
    mean over the last epoch), so train and val losses describe the same model.
    """
    c = config
    train, test = load_splits(c["dataset"], c["train_size"], c["test_size"])
    seed_everything(c["seed"])
    model = build_model(c, train)
    device = resolve_device(c["device"])
    stream = tiled(c, train)
    tc = train_config(c, len(stream))
    hist = fit(model, stream, test, tc, device=device)
    train_metrics = (float("nan"), float("nan"))
    if hist.status == "ok":  # in the precision fit trained and validated in
        train_metrics = evaluate(model, train, device=device, dtype=autocast_dtype(tc, device))
    return run_result(hist, count_params(model), train, train_metrics,
                      statistics.median(e["seconds"] for e in hist.epochs), hist.wall_time)


@versioned(2, name="deep_vs_shallow.train_batched",
           formerly=("archlab.experiments.deep_vs_shallow.train_run_batched",))
def train_run_batched(configs: list[dict]) -> list[dict]:
    """``train_run`` for configs that differ only in ``seed`` and ``lr``, trained in one vmapped step; same result
    keys, and ``sec_per_epoch`` / ``wall_time`` are each run's share of the group's time. A group of one, or a
    model vmap cannot train (the sequential layout with batch norm updates slices of shared running statistics,
    refused before any step), runs through ``train_run`` one config at a time."""
    c = configs[0]
    if len(configs) == 1:
        return [train_run(c)]
    train, test = load_splits(c["dataset"], c["train_size"], c["test_size"])
    models = []
    for cc in configs:
        seed_everything(cc["seed"])
        models.append(build_model(c, train))
    device = resolve_device(c["device"])
    stream = tiled(c, train)
    tcs = [train_config(cc, len(stream)) for cc in configs]
    try:
        hists = fit_batched(models, stream, test, tcs, device=device)
    except NotBatchable:
        return [train_run(cc) for cc in configs]
    train_loss, train_acc = evaluate_batched(models, train, device=device, dtype=autocast_dtype(tcs[0], device))
    P, K = count_params(models[0]), len(configs)
    return [run_result(h, P, train, (train_loss[k], train_acc[k]),
                       statistics.median(e["seconds"] for e in h.epochs) / K, h.wall_time / K)
            for k, h in enumerate(hists)]


def run_function(cfg: DeepShallowConfig):
    """The run function whose stored runs this config's notebook reads: batched or one at a time."""
    return train_run_batched if cfg.resolved_batched() else train_run


def step_times(cfg: DeepShallowConfig, device=None, batch_size: int = 256, min_run_time: float = 0.2,
               blocks: int = 3, store=None) -> pd.DataFrame:
    """Milliseconds per training step (forward, backward, AdamW step) of both layouts of every architecture of the
    grid: one row per architecture, layout and block (``analysis.step_ratios`` takes each layout's median over
    blocks), with the ``hardware`` that timed them.

    The timings are a stored run (``time_steps``) like any trained one, so a notebook rendered from stored runs
    shows the timings of the machine that trained them instead of re-timing on the machine that renders; a new
    store (``make reproduce``) times anew."""
    if not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"blocks={blocks!r} is not valid; it must be an integer >= 1")
    device = cfg.resolved_device(device)
    keys = [f for f in FACTORS if f not in ("lr", "train_size")]  # one timing per architecture
    archs = list({tuple(c[k] for k in keys): {k: c[k] for k in keys} for c in cfg.configs(device)}.values())
    job = dict(archs=archs, device=device.type, batch_size=batch_size, min_run_time=min_run_time, blocks=blocks)
    r = measured(time_steps, job, store=store)
    return pd.DataFrame(r["rows"]).assign(hardware=r["hardware"])


@versioned(1, name="deep_vs_shallow.step_times")
def time_steps(job: dict) -> dict:
    """Time every architecture of ``job["archs"]`` one model at a time on random inputs, in ``job["blocks"]``
    interleaved rounds: ``rows`` (architecture, layout, block, ms_per_step) and the ``hardware``.

    The sweep's own seconds per epoch are shared with other runs when the ray executor packs several onto one GPU,
    so the speed claim is judged on these isolated timings (torch.utils.benchmark syncs CUDA and picks the count).
    Every round times every model once, so a slow spell of a shared machine (another process, a clock change)
    lands on both layouts of an architecture instead of on one of them."""
    # torch.utils.benchmark imports cpp_extension, which warns about a missing CUDA toolkit on CPU-only machines.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    device = resolve_device(job["device"])
    steps = [(c, _step_fn(c, device, job["batch_size"])) for c in job["archs"]]
    rows = []
    for block in range(job["blocks"]):
        for c, step in steps:
            t = benchmark.Timer("step()", globals={"step": step}).blocked_autorange(min_run_time=job["min_run_time"])
            rows.append({**c, "device": device.type, "block": block, "ms_per_step": 1e3 * t.median})
    return {"rows": rows, "hardware": device_name(device)}


def _step_fn(c: dict, device: torch.device, batch_size: int):
    """One training step of the config's model on a fixed random batch, warmed up once (cuDNN plans, allocator)."""
    cuda = device.type == "cuda"
    shape = SHAPES[c["dataset"]]
    model = create_model(c["layout"], layers=c["L"], filters=c["F"], kernel=c["k"], activation=c["activation"],
                         pool=c["pool"], batchnorm=c["batchnorm"], head=c["head"], input_shape=shape).to(device)
    x = torch.randn(batch_size, *shape, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    if cuda:  # as in archlab.train.fit: channels_last and bf16 autocast on CUDA
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    return step


def run(cfg: DeepShallowConfig, store=None, device=None) -> Runs:
    """Everything the notebook and ``verdicts`` read, by name: ``grid``, every run of the profile's grid through the
    run store (finished runs load, failures are recorded; the config's factors beside each run's result columns);
    ``pairs`` (``analysis.pair_runs``) and ``depth`` (the depth experiment's finished pairs); ``truncation`` and
    ``slopes`` (``analysis.truncation_check``, nothing trained); ``steps`` (``step_times``, a stored run: timed on
    ``device`` by the machine that made the store) and ``device`` (its type)."""
    device = cfg.resolved_device(device)
    fn = run_function(cfg)
    # the sweep comes first: bench.device_runs records it by replacing run_sweep and stopping there
    grid = run_sweep(fn, cfg.configs(device), store=store, executor=cfg.resolved_executor(),
                     gpus_per_run=cfg.gpus_per_run, shard=cfg.shard or None, desc=STEM,
                     group_by=GROUP_BY if fn is train_run_batched else None)
    pairs = pair_runs(grid)
    curves, slopes = truncation_check()
    cuda = device.type == "cuda"
    steps = step_times(cfg, device, batch_size=256 if cuda else 64, min_run_time=0.2 if cuda else 0.05, blocks=3,
                       store=store)
    return Runs(cfg, grid=grid, pairs=pairs, depth=depth_pairs(pairs, *depth_set(cfg.resolved_profile)),
                truncation=curves, slopes=slopes, steps=steps, device=device.type)
