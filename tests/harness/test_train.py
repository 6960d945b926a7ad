"""The training loop: it learns, it is reproducible, it survives divergence, it validates its config."""
import math

import pytest
import torch

from archlab.config import ConfigError
from archlab.data import load_splits
import archlab.papers  # noqa: F401 - registers the papers' models ("parallel" below)
from archlab.models import create_model
from archlab.train import History, TrainConfig, autocast_dtype, count_flops, count_params, evaluate, fit, \
    make_scheduler, resolve_device, run_training, seed_everything


def _digits_run(**overrides):
    tr, te = load_splits("digits", train_size=400, test_size=200)
    seed_everything(0)
    model = create_model("small_cnn", input_shape=(1, 8, 8), width=8)
    cfg = TrainConfig.from_dict({"epochs": 3, "batch_size": 64, "lr": 3e-3, "seed": 0, **overrides})
    return model, fit(model, tr, te, cfg), te


def test_loss_falls_and_accuracy_beats_chance():
    model, hist, te = _digits_run()
    losses = [e["train_loss"] for e in hist.epochs]
    assert hist.status == "ok" and len(losses) == 3
    assert losses[-1] < 0.7 * losses[0]
    assert hist.final["val_acc"] > 0.5
    # fit validates in the training precision (bf16 on CUDA or under ARCHLAB_FORCE_CUDA_PATHS): evaluate in the same
    # one, or a bf16 validation loss is compared with an fp32 one at rel=1e-5 (they differ by ~3e-5).
    loss, acc = evaluate(model, te, dtype=autocast_dtype(TrainConfig(), resolve_device(None)))
    assert acc == pytest.approx(hist.final["val_acc"]) and loss == pytest.approx(hist.final["val_loss"], rel=1e-5)


def test_same_seed_gives_identical_history():
    _, h1, _ = _digits_run(augment=True, log_every=2)
    _, h2, _ = _digits_run(augment=True, log_every=2)
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h.epochs]  # noqa: E731
    assert strip(h1) == strip(h2) and h1.step_loss == h2.step_loss and len(h1.step_loss) > 0


def test_divergence_is_marked_not_raised():
    _, hist, _ = _digits_run(optimizer="sgd", lr=1e30, momentum=0.0)
    assert hist.status == "diverged"
    assert hist.diverged_step is not None and hist.diverged_step >= 1
    assert math.isnan(hist.final["train_loss"])


def test_history_round_trips_through_dict():
    _, hist, _ = _digits_run(epochs=1)
    again = History.from_dict(hist.to_dict())
    assert again == hist and len(again.frame()) == 1


@pytest.mark.parametrize("bad,match", [({"optimizer": "adam"}, "adamw"), ({"schedule": "step"}, "onecycle"),
                                       ({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"), ({"bogus": 1}, "bogus"),
                                       ({"warmup_epochs": 9.0}, "warmup")])
def test_bad_train_config_is_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict(bad)


@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
def test_schedules_reach_expected_lr(schedule):
    model = torch.nn.Linear(2, 2)
    cfg = TrainConfig(epochs=2, lr=0.1, optimizer="sgd", schedule=schedule, warmup_epochs=0.5)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    sched = make_scheduler(opt, cfg, steps_per_epoch=10)
    lrs = []
    for _ in range(20):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert max(lrs) == pytest.approx(0.1, rel=0.05)
    assert lrs[0] < 0.05  # warm-up (one-cycle starts low by construction)
    if schedule != "constant":
        assert lrs[-1] < 0.01


def test_param_and_flop_counts():
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    assert count_params(m) == 15
    assert count_flops(m, (4,)) == 2 * 4 * 3  # one multiply-add = 2 FLOPs


def test_run_training_returns_plain_data():
    res = run_training({"model": "small_cnn", "model_kwargs": {"width": 8}, "dataset": "digits", "train_size": 200,
                        "test_size": 100, "train": {"epochs": 1, "batch_size": 50}})
    assert res["status"] == "ok" and res["params"] > 0 and res["flops"] > 0 and 0 <= res["val_acc"] <= 1
    assert len(res["history"]["epochs"]) == 1


def test_run_training_fills_the_input_shape_and_classes_from_the_data():
    # every factory takes input_shape and num_classes: a conv net on digits (1x8x8) and paper 2's layouts alike
    res = run_training({"model": "parallel", "model_kwargs": {"layers": 2, "filters": 4}, "dataset": "digits",
                        "train_size": 100, "test_size": 50, "train": {"epochs": 1, "batch_size": 50}})
    assert res["status"] == "ok" and res["params"] > 0


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 7])
def test_onecycle_survives_tiny_runs(steps):
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    sched = make_scheduler(opt, TrainConfig(epochs=1, lr=0.1, schedule="onecycle"), steps_per_epoch=steps)
    for _ in range(steps):
        opt.step()
        sched.step()
    assert all(math.isfinite(g["lr"]) for g in opt.param_groups)


def test_flop_count_can_be_restricted_to_ops():
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(2 * 6 * 6, 3))
    conv, lin = 2 * (2 * 1 * 9) * 36, 2 * 72 * 3  # 2 FLOPs per multiply-add
    assert count_flops(m, (1, 8, 8), ops={"convolution"}) == conv
    assert count_flops(m, (1, 8, 8), ops={"convolution", "addmm"}) == conv + lin == count_flops(m, (1, 8, 8))


def test_a_cuda_run_on_a_machine_without_cuda_is_the_machines_failure(store, monkeypatch):
    """Refused before training, and recorded as "environment" (retried elsewhere), never trained on the CPU."""
    from archlab.store import run_or_load, versioned
    from archlab.train import DeviceUnavailable

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailable, match="'cuda'.*valid here: 'cpu'"):
        resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu" and resolve_device(None).type == "cpu"

    @versioned(1, name="test.needs_cuda")
    def needs_cuda(c):
        return {"device": str(resolve_device(c["device"]))}

    r = run_or_load(needs_cuda, {"device": "cuda"}, store=store)
    assert r["status"] == "environment" and "no CUDA GPU" in r["error"]
