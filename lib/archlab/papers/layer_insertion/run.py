"""Paper 4's stored run functions (one growing or fixed net per run) and ``run``: train or load every study.

``run_growth`` trains one MLP (the MNIST and CIFAR-10 image studies); ``run_growth_seeds`` trains a spirals arm's
seeds (FNN / res2) in one batched step (``batched.train_seeds``), each seed stored as its own run; both share
``mlp_setup`` and ``mlp_schedule``, so a seed's data, init and schedule are the same either way.
``run_cnn_growth`` trains the v2 CNN variant of E5b (docs/papers/layer_insertion.md): a VGG (``models_cnn``), three
candidate positions (end of each conv stage), Dirac-initialised virtual convs. Insertion after ``insert_at`` epochs:

- sensitivity = the mean virtual-kernel gradient over one pass of the training loader, augmentation on, no
  update (counted in the FLOPs); the decision norm is ``op22``, the squared largest singular value of the conv
  operator by FFT (``sensitivity.op_norm_sq``); the Frobenius variant is logged beside it;
- SGD momentum 0.9, weight decay 5e-4, lr 0.01, batch 128, random crop (pad 4) + flip on the device, CIFAR
  mean/std; a new optimizer at insertion (momentum resets) with lr x factor (1.0: no CNN value is given [R]).
  The authors' StepLR(100, 0.5) never fires within a 50-epoch phase, so the lr is constant here.

Arms: ``sensli`` (max op22), ``small`` (never grows; same init and data order as SensLI until insertion),
``large`` = the big VGG (a second conv in stage 0 from the start, i.e. the candidate at position 0 with PyTorch's
random init and a fresh seed), and ``min`` (least sensitive position, the authors' LIother). Test accuracy is
evaluated after every epoch; FLOPs are exact (``loop.FlopMeter``: forward + backward of every step and the
sensitivity pass). Profiles and run times: ``grid``.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

from ...data import DeviceLoader, load_splits
from ...models import create_model
from ...runs import Runs
from ...store import versioned
from ...sweep import run_sweep
from ...testnoise import correct_bits
from ...train import count_params, evaluate, seed_everything
from .batched import train_seeds
from .grid import BIG_DEPTHS, CNN_SELECT, GROWING, SELECT, SPIRALS, InsertionConfig, grids, start_widths
from .loop import growth_result, train_growing
from .meta import STEM
from .models_cnn import GrowingVGG  # noqa: F401  (importing it registers the growing FNN, res2 and VGG)

LARGE_SEED_OFFSET = 10_000  # FNN2/ResNet2 start from a fresh init, not the small net's
BIG_SEED_OFFSET = 10_000  # the big VGG starts from a fresh init, as the MLP studies' large nets do


@contextmanager
def tiny_threads(config: dict):
    """One intra-op thread for every run on the CPU: this paper's nets are too small to split (spirals: 27-80
    parameters; the cpu-profile VGG: widths 4/8/16), and on a shared machine a second thread costs far more than it
    gives (measured, load ~8 on 2 cores: a smoke image run 0.4 CPU-s with one thread, 4-5 CPU-s with two; a batched
    spirals step ten times slower). Runs on another device keep torch's setting."""
    threads = torch.get_num_threads()
    if str(config.get("device", "cpu")) == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def mlp_setup(c: dict):
    """Data, seeded net, loader and test metric of one MLP run (``run_growth`` and ``run_growth_seeds`` alike)."""
    train, test = load_splits(c["dataset"], train_size=c["train_size"], seed=0, **c["data_kw"])
    device = torch.device(c["device"])
    seed_everything(c["seed"] + (LARGE_SEED_OFFSET if c["method"].startswith("large") else 0))
    model = create_model(f"growing_{c['arch']}", input_shape=train.sample_shape, widths=start_widths(c),
                         num_classes=train.num_classes).to(device)
    loader = DeviceLoader(train, c["batch_size"] or len(train), device=device, seed=c["seed"])

    def test_metrics(m):
        loss, acc = evaluate(m, test, device=device)
        return {"test_loss": loss, "test_err": 1.0 - acc}

    return train, test, device, model, loader, test_metrics


def mlp_schedule(c: dict, steps_per_epoch: int) -> dict:
    """The keyword arguments both MLP loops share: schedule, rule, cadences (given in epochs, counted in steps)."""
    grows = c["method"] in GROWING
    return dict(epochs=c["epochs"], lr=c["lr"], insert_at=c["insert_at"] if grows else (),
                select=SELECT.get(c["method"], c["fixed_position"]), factor=c["factor"], log_every=c["log_every"],
                sens_every=c["sens_every"] * steps_per_epoch, eval_every=c["eval_every"] * steps_per_epoch,
                probe_lr=c["probe_lr"] if grows else 0.0)


def _mlp_result(c: dict, model, log, params_start: int, train, test, device) -> dict:
    return growth_result(model, log, params_start=params_start, train_metrics=evaluate(model, train, device=device),
                         test_metrics=evaluate(model, test, device=device),
                         flops=log["flops"][-1] if log["flops"] else 0)


@versioned(3, name="layer_insertion.grow", formerly=("archlab.experiments.layer_insertion.run_growth",))
def run_growth(config: dict) -> dict:
    """Train one net (growing or fixed) and return its curves, decisions and final metrics."""
    c = config
    with tiny_threads(c):
        train, test, device, model, loader, test_metrics = mlp_setup(c)
        params_start = count_params(model)
        model, log = train_growing(model, loader, momentum=c["momentum"], evaluate=test_metrics, seed=c["seed"],
                                   **mlp_schedule(c, len(loader)))
        return _mlp_result(c, model, log, params_start, train, test, device)


@versioned(3, name="layer_insertion.grow_seeds")
def run_growth_seeds(configs: list[dict]) -> list[dict]:
    """``run_growth`` for configs equal but for ``seed``, every seed in one batched step (``batched.train_seeds``).

    For the spirals studies only (plain SGD): their nets are tiny, so one-at-a-time training is all overhead.
    v2: each result also holds ``test_correct`` (``archlab.testnoise.correct_bits`` on the whole 150-point test
    split), so C3's spread can be split into test-set and seed parts.
    """
    bad = sorted({c["study"] for c in configs if c["study"] not in SPIRALS or c["momentum"]})
    if bad:
        raise ValueError(f"run_growth_seeds trains the spirals studies {list(SPIRALS)} with plain SGD; got {bad}")
    with tiny_threads(configs[0]):
        setups = [mlp_setup(c) for c in configs]
        train, test, device, _, loader, test_metrics = setups[0]  # one data set for all seeds
        starts = [count_params(s[3]) for s in setups]
        trained = train_seeds([s[3] for s in setups], [s[4] for s in setups], [c["seed"] for c in configs],
                              evaluate=test_metrics, **mlp_schedule(configs[0], len(loader)))
        return [{**_mlp_result(c, m, log, p0, train, test, device), "test_correct": correct_bits(m, test, device=device)}
                for c, (m, log), p0 in zip(configs, trained, starts)]


@versioned(5, name="layer_insertion.grow_cnn", formerly=("archlab.experiments.layer_insertion_cnn.run_cnn_growth",))
def run_cnn_growth(config: dict) -> dict:
    """Train one VGG arm; curves, per-epoch test accuracy with cumulative FLOPs, the insertion record, and (v4)
    ``test_correct``: the final net's per-image test correctness (``archlab.testnoise.correct_bits``) for C14's split
    of its spread into test-set and seed parts.

    ``flops`` is the meter at the final evaluation, not the last logged loss window, which misses the
    steps after it when ``log_every`` does not divide the number of steps.
    """
    with tiny_threads(config):
        return _cnn_growth(config)


def _cnn_growth(c: dict) -> dict:
    """``run_cnn_growth``'s body (the caller sets the thread count)."""
    train, test = load_splits(c["dataset"], train_size=c["train_size"], test_size=c["test_size"], seed=0,
                              **c["data_kw"])
    device = torch.device(c["device"])
    method = c["method"]
    seed_everything(c["seed"] + (BIG_SEED_OFFSET if method == "large" else 0))
    model = create_model("growing_vgg", input_shape=train.sample_shape, widths=tuple(c["widths"]),
                         depths=BIG_DEPTHS if method == "large" else (1, 1, 1), num_classes=train.num_classes)
    model = model.to(device)
    params_start = count_params(model)
    loader = DeviceLoader(train, c["batch_size"], device=device, augment=c["augment"], seed=c["seed"])
    test_loader = DeviceLoader(test, 1024, train=False, device=device)

    def test_metrics(m):
        loss, acc = evaluate(m, test_loader, device=device)
        return {"test_loss": loss, "test_acc": acc}

    model, log = train_growing(
        model, loader, epochs=c["epochs"], lr=c["lr"], insert_at=c["insert_at"] if method in CNN_SELECT else (),
        select=CNN_SELECT.get(method, "max"), factor=c["factor"], momentum=c["momentum"],
        weight_decay=c["weight_decay"], log_every=c["log_every"], evaluate=test_metrics, eval_every=len(loader),
        norm=c["norm"], seed=c["seed"])
    evals = [{**e, "epoch": e["step"] / len(loader)} for e in log["evals"]]
    last = evals[-1] if evals else {}
    return growth_result(model, log, params_start=params_start, train_metrics=evaluate(model, train, device=device),
                         test_metrics=(last.get("test_loss", float("nan")), last.get("test_acc", float("nan"))),
                         flops=last.get("flops", 0), evals=evals) | {
        "test_correct": correct_bits(model, test, device=device)}


def run(cfg: InsertionConfig, store=None, device=None) -> Runs:
    """Train (or load) every run of the selected studies; ``Runs`` of ``study -> DataFrame`` (one row per run,
    results in column ``result``), the image studies on ``device`` (None: the profile's).

    The spirals studies train each arm's seeds in one batched step (``run_growth_seeds``); the image studies run
    one net at a time. Both go to the config's executor: on the cpu profile one single-thread task per core, so two
    spirals arms (100 seeds each) train side by side.
    """
    runs, executor = Runs(cfg), cfg.resolved_executor()
    for study, configs in grids(cfg, device).items():
        if study in SPIRALS:
            # The spirals nets train on the CPU (run_growth_seeds), so their Ray tasks reserve no share of a GPU.
            runs[study] = run_sweep(run_growth_seeds, configs, store=store, desc=f"{STEM}:{study}", group_by="seed",
                                    executor=executor, gpus_per_run=0)
        else:
            runs[study] = run_sweep(run_cnn_growth if study == "cnn" else run_growth, configs, store=store,
                                    desc=f"{STEM}:{study}", executor=executor)
    return runs
