"""Packed training: K seeds as one network (grouped convs, BatchNorm over K*C channels, a block-diagonal head) equal
K separate fit() runs, per supported family; unsupported models are refused before training.

Every comparison trains in float64 (``precision="fp64"``): packed and separate runs are equal in exact arithmetic
and differ only in summation order (a grouped convolution against K small ones, one cross-entropy over K*B rows
against K over B). float64 rounding (~1e-16 per op) amplified by a few dozen SGD steps stays far below ``REL``; a
layout error (a member seeing another's channels, statistics or data) is O(1).
"""
import math

import pytest
import torch

from archlab.data import load_splits
from archlab.models import create_model
from archlab.packed import FORMATS, NotPackable, pack, unpack
from archlab.packed_probe import packing_speedup
from archlab.packed_train import fit_packed
from archlab.train import TrainConfig, fit, seed_everything

import archlab.papers  # noqa: F401 - registers the papers' models

SEEDS = (0, 1, 2)
REL = 1e-9
SMALL = dict(widths=(4, 8, 8), blocks=1, stem_stride=2, input_shape=(1, 8, 8))  # paper 1's macro, tiny
MP = dict(widths=(4, 8, 8), stem=4, convs_per_stage=1, input_shape=(1, 8, 8))  # paper 3's multi-path net, tiny
# One per family the packing rules cover: plain convs + BN + head (ResNet, paper 1's E2 net), channel split + cat
# (CSP fusion), channel slicing (PRN), many-way concatenation (ELAN, VoVNet), paper 3's SE arm (squeeze-excite:
# pooling, two linear layers, a channel-wise product), the harness's small_cnn, and paper 3's routed nets (a member
# axis in every reshape by path count): learned static mixing (a bare logit table), cross-connections (a gate of
# linear layers, mixing before the conv), cross-prediction in both readings (grouped 1-D convs; CP-conv predicts
# before mixing), four paths, and a frozen router (its gate must stay as initialised).
FAMILIES = {"gp_resnet": ("gp_resnet", SMALL), "gp_resnet_sg_block": ("gp_resnet_sg_block", SMALL),
            "gp_csp_fusion": ("gp_csp_fusion", SMALL), "gp_prn": ("gp_prn", {**SMALL, "rho": 0.5}),
            "gp_elan": ("gp_elan", SMALL), "gp_vovnet": ("gp_vovnet", SMALL),
            "mp_se_net": ("mp_se_net", dict(widths=(4, 8, 8), stem=4, input_shape=(1, 8, 8))),
            "small_cnn": ("small_cnn", dict(input_shape=(1, 8, 8), width=8)),
            "mp2_static": ("multipath_net", dict(MP, router="static")),
            "mp2_cc": ("multipath_net", dict(MP, router="cross_connections")),
            "mp2_cp_gate": ("multipath_net", dict(MP, router="cross_prediction_gate")),
            "mp4_cp_conv": ("multipath_net", dict(MP, router="cross_prediction_conv", paths=4)),
            "mp2_cc_frozen": ("multipath_net", dict(MP, router="cross_connections", freeze_router=True))}


def _models(name, seeds=SEEDS):
    model, kwargs = FAMILIES[name]
    out = []
    for s in seeds:
        seed_everything(s)
        out.append(create_model(model, num_classes=10, **kwargs))
    return out


def _cfgs(lrs=None, **kw):
    base = dict(epochs=2, batch_size=32, lr=0.05, optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=5e-4,
                schedule="onecycle", augment=True, log_every=2, precision="fp64")
    return [TrainConfig(**{**base, **kw, "seed": s, **({"lr": lrs[i]} if lrs else {})}) for i, s in enumerate(SEEDS)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: these nets are per-op-overhead bound, and on a loaded 2-core machine two threads each
    made the tests 10x slower (thread contention), with identical results."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def digits():
    return load_splits("digits", train_size=160, test_size=64)


def _compare(name, cfgs, data, memory_format="contiguous"):
    tr, te = data
    separate, together = _models(name), _models(name)
    hists = [fit(m, tr, te, c) for m, c in zip(separate, cfgs)]
    phists = fit_packed(together, tr, te, cfgs, memory_format=memory_format)
    for m, pm in zip(separate, together):  # weights and BatchNorm statistics, written back per member
        for (k, p), q in zip(m.state_dict().items(), pm.state_dict().values()):
            assert torch.allclose(p.double(), q.double(), rtol=REL, atol=1e-12), k
    for h, ph in zip(hists, phists):
        assert ph.status == h.status == "ok"
        assert [s for s, _ in ph.step_loss] == [s for s, _ in h.step_loss]
        for (_, a), (_, b) in zip(h.step_loss, ph.step_loss):
            assert math.isclose(a, b, rel_tol=REL)
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert math.isclose(h.final[key], ph.final[key], rel_tol=REL, abs_tol=1e-12), key


@pytest.mark.parametrize("name", list(FAMILIES))
def test_packed_equals_separate_runs(name, digits):
    _compare(name, _cfgs(), digits)


def test_members_may_differ_in_learning_rate(digits):
    _compare("gp_csp_fusion", _cfgs(lrs=[0.05, 0.02, 0.01], schedule="cosine"), digits)


@pytest.mark.parametrize("name", ["gp_elan", "mp2_cc"])
def test_packed_in_channels_last_equals_separate_runs(name, digits):
    """The other memory format the probe may pick: same members, only the layout of the packed net's tensors."""
    _compare(name, _cfgs(), digits, memory_format="channels_last")


def test_an_unknown_memory_format_is_refused_before_training(digits):
    with pytest.raises(ValueError, match="channels_last"):
        fit_packed(_models("small_cnn"), *digits, _cfgs(), memory_format="nhwc")


def test_a_frozen_member_parameter_stays_frozen_when_packed():
    ms = _models("mp2_cc_frozen")
    packed = pack(ms)
    frozen = {n for n, p in ms[0].named_parameters() if not p.requires_grad}
    assert frozen and frozen == {n.removeprefix("net.") for n, p in packed.named_parameters() if not p.requires_grad}


def test_a_routing_table_is_stacked_per_member_and_unpacked_back():
    ms = _models("mp2_static")
    packed = pack(ms)
    for (name, p), m in zip([(n, p) for n, p in packed.named_parameters() if n.endswith("logits")], [ms[0]]):
        member = dict(m.named_parameters())[name.removeprefix("net.")]
        assert p.shape == (len(SEEDS), *member.shape)
    for m in ms:
        for t in m.parameters():
            t.data.zero_()
    unpack(packed, ms)
    assert all(m.stages[0][0].logits.abs().sum() == 0 for m in ms)  # zero at initialisation: uniform mixing


@pytest.mark.parametrize("name", ["gp_prn", "mp2_cc"])
def test_pack_unpack_round_trip_keeps_each_members_tensors(name):
    ms = _models(name)
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in ms]
    packed = pack(ms)
    for m in ms:  # scribble, then restore from the packed copy
        for t in m.state_dict().values():
            t.zero_()
    unpack(packed, ms)
    for m, b in zip(ms, before):
        for k, v in m.state_dict().items():
            assert torch.equal(v, b[k]), k


def test_unsupported_models_are_refused_before_training():
    seed_everything(0)  # SK: its branch attention takes a softmax across channels it does not declare per member
    ms = [create_model("mp_sk_net", widths=(8, 16, 32), stem=8, num_classes=10) for _ in range(2)]
    with pytest.raises(NotPackable):
        pack(ms, check_input=torch.randn(4, 3, 32, 32))
    with pytest.raises(NotPackable):  # a layer with no packing rule
        pack([torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LayerNorm(12)) for _ in range(2)])


def test_speedup_probe_reports_every_side():
    r = packing_speedup(lambda s: create_model("gp_resnet", num_classes=10, **{**SMALL, "input_shape": (3, 16, 16)}),
                        (3, 16, 16), 8, K=2, steps=2, repeats=1)
    assert r["single_s"] > 0 and r["packed_s"] > 0 and r["speedup"] > 0
    assert set(r["packed_s_by_format"]) == set(FORMATS) and r["packed_s"] == r["packed_s_by_format"][r["memory_format"]]


def test_packing_is_an_execution_strategy_that_keeps_run_keys(tmp_path):
    """run_sweep(fn, ..., group_fn=packed twin) stores every member under fn's own key with fn's result keys, so a
    packed sweep and a one-at-a-time sweep find each other's runs."""
    from archlab.packed_train import run_training_packed
    from archlab.store import RunStore, run_key
    from archlab.sweep import expand_grid, run_sweep
    from archlab.train import run_training

    train = dict(epochs=1, batch_size=32, lr=0.05, optimizer="sgd", precision="fp64")
    configs = [{**c, "train": {**train, "seed": c.pop("seed")}} for c in expand_grid(
        {"seed": [0, 1]}, model="small_cnn", model_kwargs={"width": 4}, dataset="digits", train_size=96, test_size=32)]
    store = RunStore(tmp_path / "runs.sqlite")
    df = run_sweep(run_training, configs, store=store, group_by="train.seed", group_fn=run_training_packed,
                   verbose=False)
    assert list(df.key) == [run_key(run_training, c) for c in configs] and (df.status == "ok").all()
    one = run_training(configs[1])
    assert set(df.result.iloc[1]) == set(one)
    assert math.isclose(df.result.iloc[1]["val_loss"], one["val_loss"], rel_tol=REL)


def test_train_group_trains_one_packed_group_and_splits_a_result_per_member(digits, monkeypatch):
    """``train_group``, the packed path of both papers' run functions: the probe's decision (with its memory format),
    then one packed fit whose members' results equal separate runs (float64), each in config order with its share
    of the group's time; one run at a time for a group of one, when packing does not pay, or when the model is
    refused."""
    import archlab.packed_train as pt
    from archlab.packed_train import share_seconds, train_group

    tr, te = digits
    (name, kwargs), tcfgs = FAMILIES["gp_resnet"], _cfgs()[:2]
    configs = [{"seed": t.seed, "device": "cpu"} for t in tcfgs]

    def build(c, tcfg):
        seed_everything(tcfg.seed)
        return create_model(name, num_classes=10, **kwargs), c["seed"]

    def result(c, state, h, K):
        return {"member": state, "K": K, "final": h.final, "sec": share_seconds(h, K), "wall": h.wall_time}

    probed = []
    kw = dict(train_config=lambda c: tcfgs[configs.index(c)], build=build, result=result,
              spec=lambda c: probed.append(c) or (name, kwargs))
    single = lambda c: {"alone": c["seed"]}  # noqa: E731
    formats = []

    def fit_group(*a, memory_format, **k):
        formats.append(memory_format)
        return fit_packed(*a, memory_format=memory_format, **k)

    monkeypatch.setattr(pt, "packing_choice", lambda *a, **k: "channels_last")
    together = train_group(configs, single, tr, te, fit_group=fit_group, **kw)
    assert probed == [configs[0]] and formats == ["channels_last"]  # one probe per group, for its first config
    separate = [fit(build(c, t)[0], tr, te, t) for c, t in zip(configs, tcfgs)]
    for r, c, h in zip(together, configs, separate):
        assert r["member"] == c["seed"] and r["K"] == 2
        assert r["sec"] == pytest.approx(r["wall"] / len(h.epochs) / 2)
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert math.isclose(r["final"][key], h.final[key], rel_tol=REL, abs_tol=1e-12), key
    alone = [{"alone": 0}, {"alone": 1}]
    assert train_group(configs[:1], single, tr, te, **kw) == alone[:1]

    def refuse(*a, **k):
        raise NotPackable("refused")

    assert train_group(configs, single, tr, te, fit_group=refuse, **kw) == alone
    monkeypatch.setattr(pt, "packing_choice", lambda *a, **k: None)
    assert train_group(configs, single, tr, te, **kw) == alone


def test_split_by_packing_asks_once_per_architecture_and_keeps_the_order():
    from archlab.packed_train import split_by_packing

    configs = [{"arm": a, "seed": s} for s in range(3) for a in "abc"]
    asked = []
    grouped, alone = split_by_packing(configs, "arm", lambda c, K: asked.append((c["arm"], c["seed"], K)) or
                                      c["arm"] != "b")
    assert asked == [("a", 0, 3), ("b", 0, 3), ("c", 0, 3)]
    assert grouped == [c for c in configs if c["arm"] != "b"] and alone == [c for c in configs if c["arm"] == "b"]


def test_split_by_packing_probes_each_group_at_its_own_size():
    """An arm trained on two datasets is two groups of seeds: each is asked about with its own K, not the arm's total."""
    from archlab.packed_train import split_by_packing

    configs = [{"arm": "a", "data": d, "seed": s} for d in ("x", "y") for s in range(3 if d == "x" else 2)]
    asked = []
    grouped, alone = split_by_packing(configs, ("arm", "data"), lambda c, K: asked.append((c["data"], K)) or
                                      c["data"] == "x")
    assert asked == [("x", 3), ("y", 2)]
    assert grouped == configs[:3] and alone == configs[3:]
