"""Paper 4, E5b: the v2 CNN variant of layer insertion, a growing VGG on CIFAR-10 (study ``cnn``).

Design (spec "CNN variant (v2)" and E5b): VGG m = [64, 128, 256] (``archlab.models.growing_cnn``), three candidate
positions (end of each conv stage), Dirac-initialised virtual convs. Insertion after ``insert_at`` epochs:

- sensitivity = the mean virtual-kernel gradient over one pass of the training loader, augmentation on, no
  update (counted in the FLOPs); the decision norm is ``op22``, the squared largest singular value of the conv
  operator by FFT (``archlab.insertion.op_norm_sq``); the Frobenius variant is logged beside it;
- SGD momentum 0.9, weight decay 5e-4, lr 0.01, batch 128, random crop (pad 4) + flip on the device, CIFAR
  mean/std; a new optimizer at insertion (momentum resets) with lr x factor (1.0: the spec gives no CNN value
  [R]). The authors' StepLR(100, 0.5) never fires within a 50-epoch phase, so the lr is constant here.

Arms: ``sensli`` (max op22), ``small`` (never grows; same init and data order as SensLI until insertion),
``large`` = the big VGG (a second conv in stage 0 from the start, i.e. the candidate at position 0 with PyTorch's
random init and a fresh seed), and ``min`` (least sensitive position, the authors' LIother) where a profile asks
for it. Test accuracy is evaluated after every epoch; FLOPs are exact (``FlopMeter``: forward + backward of every
step and the sensitivity pass).

Presets (``PRESETS[profile]["cnn"]`` in ``layer_insertion``) and run time (the whole cnn study):
- smoke: synthetic 3x16x16 images, widths (4, 8, 8), 2+2 epochs, 2 seeds, 4 arms; batch 16 and lr 0.02, so that
         this VGG without BatchNorm leaves chance level within seconds: ~3 s (measured).
- cpu:   CIFAR-10 10,000 train / 2,000 test, widths (16, 32, 64), 4+4 epochs, 3 seeds, 3 arms: 188 s measured on
         the 2 idle cores (18-23 s per run; the min arm would add ~65 s, so it is left to gpu/paper); 26 min
         when another notebook trained on the same cores (thread oversubscription).
- gpu:   full CIFAR-10, [64, 128, 256], 10+10 epochs, 3 seeds, 4 arms (the spec's shortened E5b): 5.0 PFLOP
         (bench/jobs.py), ~5-8 min on one H100 (estimate, not measured: ~20 TFLOP/s for these small TF32 convs
         plus per-step overhead).
- paper: as gpu with 50+50 epochs (the authors' schedule) and 10 seeds: 79 PFLOP, ~1-2 h on one H100
         (estimate, same assumptions).
"""
from __future__ import annotations

import torch

from ..claims import Claim
from ..data import DeviceLoader, load_splits
from ..insertion import growth_result, train_growing
from ..models import create_model
from ..store import versioned
from ..train import count_params, evaluate, seed_everything

BIG_SEED_OFFSET = 10_000  # the big VGG starts from a fresh init, as the MLP studies' large nets do
SELECT = {"sensli": "max", "min": "min"}
BIG_DEPTHS = (2, 1, 1)  # the candidate at position 0 present from the start

_INCONCLUSIVE = "inconclusive otherwise, with fewer than 3 seeds or on the smoke profile"
_ACC = ("Final test accuracy (after the last epoch), SensLI vs the small VGG from the same init, per seed: reproduced "
        "if SensLI >= small in >= 2/3 of seeds; not reproduced if in <= 1/2 of seeds; " + _INCONCLUSIVE
        + " (no sign test: with 3 seeds its smallest p is 0.125)")
_COST = ("Per seed: target = the lower of the two runs' best per-epoch test accuracy (so both reach it); exact "
         "cumulative training FLOPs (sensitivity pass included) until each run's per-epoch evaluation first reaches "
         "it. Reproduced if SensLI needs fewer FLOPs in >= 2/3 of seeds and the median FLOP ratio SensLI/big < 1; "
         "not reproduced if it needs fewer in <= 1/2 of seeds; " + _INCONCLUSIVE)
CNN_DECLARED = [  # fixed before any cnn run; layer_insertion appends them to its CLAIMS
    (Claim("cnn_vs_small", "4", "[A/R] CNN (v2, spec E5b): a VGG grown by one Dirac-initialised conv at the most "
           "op22-sensitive position reaches at least the small fixed VGG's test accuracy after the same epochs.", _ACC),
     dict(kind="cnn_acc", study="cnn", base="small")),
    (Claim("cnn_cost_vs_big", "4", "[A/R] CNN (v2, spec E5b): SensLI reaches the big VGG's accuracy level (second "
           "conv in stage 0 from the start, fresh init) with fewer FLOPs.", _COST),
     dict(kind="cnn_cost", study="cnn", base="large")),
]


def cnn_configs(m: dict, device: str) -> list[dict]:
    """One config per (arm, seed) of the preset ``m``; every config carries ``study`` and ``method``."""
    return [dict(study="cnn", dataset=m["dataset"], data_kw=m["data_kw"], train_size=m["train_size"],
                 test_size=m["test_size"], arch="vgg", widths=m["widths"], method=method, lr=m["lr"], factor=1.0,
                 momentum=0.9, weight_decay=5e-4, batch_size=m["batch_size"], augment=True, epochs=m["epochs"],
                 insert_at=m["insert_at"], norm="op22", log_every=m["log_every"], device=device, seed=seed)
            for method in m["methods"] for seed in range(m["seeds"])]


@versioned(2)
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
        model, loader, epochs=c["epochs"], lr=c["lr"], insert_at=c["insert_at"] if method in SELECT else (),
        select=SELECT.get(method, "max"), factor=c["factor"], momentum=c["momentum"], weight_decay=c["weight_decay"],
        log_every=c["log_every"], evaluate=test_metrics, eval_every=len(loader), norm=c["norm"], seed=c["seed"])
    evals = [{**e, "epoch": e["step"] / len(loader)} for e in log["evals"]]
    last = evals[-1] if evals else {}
    return growth_result(model, log, params_start=params_start, train_metrics=evaluate(model, train, device=device),
                         test_metrics=(last.get("test_loss", float("nan")), last.get("test_acc", float("nan"))),
                         total_flops=last.get("flops", 0), evals=evals)
