"""Batched training: K seeds (and learning rates) in one vmapped step equal K separate fit() runs; groups are
stored per member.

Every comparison trains in float64 (``precision="fp64"``): the two computations are equal in exact arithmetic and
differ only in summation order, so their float64 rounding (~1e-16, amplified by a few dozen training steps) stays
many orders of magnitude below the ``REL`` tolerance on any machine. In float32 the same amplification reaches
1e-4..1e-2 and depends on the BLAS build and thread count.
"""
import math

import pytest
import torch

from archlab.batched import NotBatchable, fit_batched, run_training_batched
from archlab.config import ConfigError
from archlab.data import load_splits
from archlab.models import create_model
from archlab.sweep import run_sweep
from archlab.train import TrainConfig, fit, run_training, seed_everything

import archlab.papers  # noqa: F401 - registers the papers' models (the deep-vs-shallow layouts below)

SEEDS = (0, 1, 2)
REL = 1e-9  # float64 rounding amplified by training stays below ~1e-13 here
# small_cnn (conv + batch norm), and both deep-vs-shallow layouts (the sweep-throughput benchmark's models).
MODELS = {"small_cnn": dict(input_shape=(1, 8, 8), width=8, num_classes=10),
          "parallel": dict(layers=3, filters=4, kernel=3, pool=2, input_shape=(1, 8, 8)),
          "sequential": dict(layers=3, filters=4, kernel=3, pool=2, input_shape=(1, 8, 8))}


@pytest.fixture(scope="module")
def digits():
    return load_splits("digits", train_size=320, test_size=160)


def _models(name, seeds=SEEDS):
    out = []
    for s in seeds:
        seed_everything(s)
        out.append(create_model(name, **MODELS[name]))
    return out


def _separate_and_batched(name, cfgs, seeds=SEEDS):
    """The same K initialisations trained one at a time by fit and together by fit_batched."""
    tr, te = load_splits("digits", train_size=320, test_size=160)
    separate, together = _models(name, seeds), _models(name, seeds)
    hists = [fit(m, tr, te, c) for m, c in zip(separate, cfgs)]
    bhists = fit_batched(together, tr, te, cfgs)
    # The trained weights (and batch-norm statistics) are written back into the models.
    for m, bm in zip(separate, together):
        for (k, p), q in zip(m.state_dict().items(), bm.state_dict().values()):
            assert torch.allclose(p.double(), q.double(), rtol=REL, atol=1e-12), k
    return hists, bhists


def _cfgs(**kw):
    base = dict(epochs=2, batch_size=64, lr=3e-3, weight_decay=0.05, schedule="cosine", augment=True, log_every=2,
                precision="fp64")
    return [TrainConfig(**{**base, **kw, "seed": s}) for s in SEEDS]


@pytest.mark.parametrize("name", list(MODELS))
def test_batched_run_equals_separate_runs(name):
    hists, bhists = _separate_and_batched(name, _cfgs())
    assert [h.status for h in bhists] == ["ok"] * len(SEEDS)
    for h, b in zip(hists, bhists):
        for e, f in zip(h.epochs, b.epochs, strict=True):
            for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
                assert f[key] == pytest.approx(e[key], rel=REL, abs=1e-12), key
        assert [s for s, _ in b.step_loss] == [s for s, _ in h.step_loss]
        assert [v for _, v in b.step_loss] == pytest.approx([v for _, v in h.step_loss], rel=REL)
    # Different seeds really are different models.
    assert hists[0].final["train_loss"] != pytest.approx(hists[1].final["train_loss"], rel=1e-3)


def test_one_diverging_model_leaves_the_others_untouched(digits):
    tr, te = digits
    cfgs = _cfgs(augment=False, log_every=0)[:2]
    ref = _models("small_cnn", SEEDS[:1])[0]
    ref_hist = fit(ref, tr, te, cfgs[0])
    models = _models("small_cnn", SEEDS[:2])
    with torch.no_grad():
        models[1][-1].weight.fill_(math.inf)  # model 1's logits are inf - inf = NaN from the first step
    h0, h1 = fit_batched(models, tr, te, cfgs)
    assert h1.status == "diverged" and h1.diverged_step == 1 and math.isnan(h1.final["train_loss"])
    assert h0.status == "ok" and h0.final["val_loss"] == pytest.approx(ref_hist.final["val_loss"], rel=REL)


@pytest.mark.parametrize("optimizer,schedule,lrs", [("adamw", "cosine", (1e-3, 3e-3, 1e-2)),
                                                     ("sgd", "onecycle", (0.01, 0.05, 0.2))])
def test_models_with_different_learning_rates_equal_separate_runs(optimizer, schedule, lrs):
    # Paper 2's full grid has one seed but three learning rates per architecture: they share one batched group.
    # One seed for all, so the learning rate is the only difference between the models.
    cfgs = [TrainConfig(epochs=2, batch_size=64, lr=lr, optimizer=optimizer, schedule=schedule, weight_decay=0.05,
                        augment=True, seed=0, precision="fp64") for lr in lrs]
    hists, bhists = _separate_and_batched("small_cnn", cfgs, seeds=(0, 0, 0))
    for h, b in zip(hists, bhists):
        assert b.final["val_loss"] == pytest.approx(h.final["val_loss"], rel=REL)
        assert b.final["train_loss"] == pytest.approx(h.final["train_loss"], rel=REL)
    # The rates matter: the same seed at another rate ends elsewhere.
    assert hists[0].final["train_loss"] != pytest.approx(hists[2].final["train_loss"], rel=1e-3)


def test_configs_must_differ_only_in_seed_and_lr(digits):
    tr, te = digits
    cfgs = [TrainConfig(epochs=1, seed=0), TrainConfig(epochs=1, seed=1, lr=0.1, weight_decay=0.1)]
    with pytest.raises(ConfigError, match=r"\['seed', 'lr'\].*\['weight_decay'\]"):
        fit_batched(_models("small_cnn", (0, 1)), tr, te, cfgs)


def test_buffers_updated_through_views_are_refused(digits):
    # The sequential layout's batch norm updates slices of shared running stats: vmap would drop those updates.
    tr, te = digits
    kw = {**MODELS["sequential"], "batchnorm": True}
    models = [create_model("sequential", **kw) for _ in range(2)]
    with pytest.raises(NotBatchable, match="running_mean"):
        fit_batched(models, tr, te, TrainConfig(epochs=1))


def _config(seed, width=8, model="small_cnn", lr=3e-3):
    return {"model": model, "model_kwargs": {"width": width}, "dataset": "digits", "train_size": 256,
            "test_size": 128, "train": {"epochs": 1, "batch_size": 64, "lr": lr, "seed": seed, "precision": "fp64"},
            "device": "cpu"}


def test_grouped_sweep_stores_each_member_and_matches_run_training(store):
    configs = [_config(s, w, lr=lr) for w in (4, 8) for lr in (3e-3, 1e-2) for s in (0, 1)]
    configs.append(_config(0, 8, model="no_such_model"))
    by = ("train.seed", "train.lr")
    df = run_sweep(run_training_batched, configs, store=store, group_by=by, verbose=False)
    assert len(df) == 9 and len(store) == 9
    status = df.status.tolist()
    assert status[:8] == ["ok"] * 8 and status[8] == "failed" and "no_such_model" in df.error.iloc[8]
    assert (df.group_size.iloc[:8] == 4).all()  # two seeds x two learning rates per width
    alone = run_training(configs[7])
    assert df.val_loss.iloc[7] == pytest.approx(alone["val_loss"], rel=REL)
    # A second call loads everything from the store: no group is trained again.
    again = run_sweep(run_training_batched, configs, store=store, group_by=by, verbose=False)
    assert again.key.tolist() == df.key.tolist() and again.val_loss.iloc[:8].tolist() == df.val_loss.iloc[:8].tolist()
    assert len(store) == 9


def test_grouped_shards_split_whole_groups(store):
    configs = [_config(s, w) for w in (4, 8, 16) for s in (0, 1)]
    first = run_sweep(run_training_batched, configs, store=store, group_by="train.seed", shard="0/2", verbose=False)
    assert sorted(first.model_kwargs.map(lambda k: k["width"]).tolist()) == [4, 4, 16, 16]
    assert (first.group_size == 2).all()
