"""Paper 4's stored run functions (one growing or fixed net per run) and ``run``: train or load every study.

``run_growth`` trains the MLPs (spirals FNN / res2, the MNIST and CIFAR-10 image studies); ``run_cnn_growth`` the
v2 CNN variant of E5b (spec "CNN variant (v2)"): a VGG m = [64, 128, 256] (``models_cnn``), three candidate
positions (end of each conv stage), Dirac-initialised virtual convs. Insertion after ``insert_at`` epochs:

- sensitivity = the mean virtual-kernel gradient over one pass of the training loader, augmentation on, no
  update (counted in the FLOPs); the decision norm is ``op22``, the squared largest singular value of the conv
  operator by FFT (``insertion.op_norm_sq``); the Frobenius variant is logged beside it;
- SGD momentum 0.9, weight decay 5e-4, lr 0.01, batch 128, random crop (pad 4) + flip on the device, CIFAR
  mean/std; a new optimizer at insertion (momentum resets) with lr x factor (1.0: the spec gives no CNN value
  [R]). The authors' StepLR(100, 0.5) never fires within a 50-epoch phase, so the lr is constant here.

Arms: ``sensli`` (max op22), ``small`` (never grows; same init and data order as SensLI until insertion),
``large`` = the big VGG (a second conv in stage 0 from the start, i.e. the candidate at position 0 with PyTorch's
random init and a fresh seed), and ``min`` (least sensitive position, the authors' LIother) where a profile asks
for it. Test accuracy is evaluated after every epoch; FLOPs are exact (``FlopMeter``: forward + backward of every
step and the sensitivity pass). Profiles and run times: ``grid``.
"""
from __future__ import annotations

import math

import torch

from ...data import DeviceLoader, load_splits
from ...models import create_model
from ...store import versioned
from ...sweep import run_sweep
from ...train import count_params, evaluate, seed_everything
from . import STEM, models, models_cnn  # noqa: F401  (models, models_cnn: register the growing nets)
from .grid import BIG_DEPTHS, CNN_SELECT, GROWING, SELECT, InsertionConfig, grids, start_widths
from .insertion import growth_result, train_growing

LARGE_SEED_OFFSET = 10_000  # FNN2/ResNet2 start from a fresh init, not the small net's
BIG_SEED_OFFSET = 10_000  # the big VGG starts from a fresh init, as the MLP studies' large nets do


@versioned(1, name="layer_insertion.grow", formerly=("archlab.experiments.layer_insertion.run_growth",))
def run_growth(config: dict) -> dict:
    """Train one net (growing or fixed) and return its curves, decisions and final metrics."""
    c = config
    train, test = load_splits(c["dataset"], train_size=c["train_size"], seed=0, **c["data_kw"])
    device = torch.device(c["device"])
    method, widths = c["method"], start_widths(c)
    grows = method in GROWING
    seed_everything(c["seed"] + (LARGE_SEED_OFFSET if method.startswith("large") else 0))
    model = create_model(f"growing_{c['arch']}", in_features=math.prod(train.sample_shape), widths=widths,
                         num_classes=train.num_classes).to(device)
    params_start = count_params(model)
    loader = DeviceLoader(train, c["batch_size"] or len(train), device=device, seed=c["seed"])
    every = lambda epochs: epochs * len(loader)  # noqa: E731  (cadences are given in epochs)

    def test_metrics(m):
        loss, acc = evaluate(m, test, device=device)
        return {"test_loss": loss, "test_err": 1.0 - acc}

    model, log = train_growing(
        model, loader, epochs=c["epochs"], lr=c["lr"], insert_at=c["insert_at"] if grows else (),
        select=SELECT.get(method, c["fixed_position"]), factor=c["factor"], momentum=c["momentum"],
        log_every=c["log_every"], sens_every=every(c["sens_every"]), evaluate=test_metrics,
        eval_every=every(c["eval_every"]),
        probe_lr=c["probe_lr"] if grows else 0.0, seed=c["seed"])
    return growth_result(model, log, params_start=params_start, train_metrics=evaluate(model, train, device=device),
                         test_metrics=evaluate(model, test, device=device),
                         total_flops=log["flops"][-1] if log["flops"] else 0)


@versioned(2, name="layer_insertion.grow_cnn", formerly=("archlab.experiments.layer_insertion_cnn.run_cnn_growth",))
def run_cnn_growth(config: dict) -> dict:
    """Train one VGG arm; curves, per-epoch test accuracy with cumulative FLOPs, the insertion record.

    ``total_flops`` is the meter at the final evaluation, not the last logged loss window, which misses the
    steps after it when ``log_every`` does not divide the number of steps.
    """
    c = config
    train, test = load_splits(c["dataset"], train_size=c["train_size"], test_size=c["test_size"], seed=0,
                              **c["data_kw"])
    device = torch.device(c["device"])
    method = c["method"]
    seed_everything(c["seed"] + (BIG_SEED_OFFSET if method == "large" else 0))
    channels, size = train.sample_shape[0], train.sample_shape[-1]
    model = create_model("growing_vgg", in_chans=channels, image_size=size, widths=tuple(c["widths"]),
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
                         total_flops=last.get("flops", 0), evals=evals)


def run(cfg: InsertionConfig, store=None) -> dict:
    """Train (or load) every run; ``study -> DataFrame`` (one row per run, results in column ``result``)."""
    return {study: run_sweep(run_cnn_growth if study == "cnn" else run_growth, configs, store=store,
                             desc=f"{STEM}:{study}")
            for study, configs in grids(cfg).items()}
