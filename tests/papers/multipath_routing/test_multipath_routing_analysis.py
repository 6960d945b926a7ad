"""Routing-specialisation analyses (paper 3, docs/papers/multipath_routing.md) on hand-made routing tensors with
known answers, and end to end on a tiny multi-path net."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from archlab.data import load_dataset
from archlab.models import create_model
from archlab.papers.multipath_routing import routing as ra


def _class_routed(n_per_class=50, k=4, noise=0.0, seed=0):
    """(N, 1, k) routing where class c sends (almost) all weight to edge c: maximal class information."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), n_per_class)
    w = np.eye(k)[labels] * (1 - noise) + noise / k
    w = w + rng.uniform(0, 1e-3, w.shape)
    return (w / w.sum(1, keepdims=True))[:, None, :], labels


def test_mi_is_log_k_when_routing_determines_class_and_zero_when_constant():
    w, labels = _class_routed()
    # The noise leaves each sample (and class mean) less than delta = 3 * 1e-3 of weight off its class's edge, so
    # H(e_bar_c) <= h(delta) + delta log 3 (Fano) and H(e_bar) >= -log max_j e_bar_j >= log 4 - log(1 + 3 delta):
    # MI lies within that much below its maximum log 4 (the bound, not this draw's value).
    delta = 3e-3
    bound = -delta * math.log(delta) - (1 - delta) * math.log(1 - delta) + delta * math.log(3) + math.log(1 + 3 * delta)
    assert math.log(4) - bound <= ra.routing_mi(w, labels) <= math.log(4) + 1e-12
    const = np.full_like(w, 0.25)
    assert ra.routing_mi(const, labels) == pytest.approx(0.0, abs=1e-12)


def test_permutation_null_separates_real_from_shuffled_labels():
    w, labels = _class_routed(noise=0.6)
    real = ra.mi_with_null(w, labels, permutations=200, seed=0)
    assert real["mi"] > real["null_q99"] and real["p_value"] == pytest.approx(1 / 201)
    assert 0 < real["mi_norm"] <= 1 and real["mi"] <= real["max_mi"]
    shuffled = np.random.default_rng(1).permutation(labels)
    fake = ra.mi_with_null(w, shuffled, permutations=200, seed=0)
    assert fake["p_value"] > 0.05


def test_routing_entropy_normalised_between_collapse_and_uniform():
    uniform = np.full((3, 2, 4), 0.25)
    one_hot = np.zeros((3, 2, 4))
    one_hot[:, :, 1] = 1
    assert np.allclose(ra.routing_entropy(uniform, axis=2), 1.0)
    assert np.allclose(ra.routing_entropy(one_hot, axis=2), 0.0)
    assert np.isnan(ra.routing_entropy(np.ones((3, 1, 2)), axis=1)).all()  # a single source carries no choice


def test_class_heatmap_is_per_class_mean():
    w = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]]])
    hm = ra.class_heatmap(w, np.array([0, 0, 1]))
    assert list(hm.columns) == ["0→0", "0→1"]
    np.testing.assert_allclose(hm.to_numpy(), [[0.5, 0.5], [0.5, 0.5]])


def test_end_to_end_is_product_of_row_normalised_matrices():
    stem = np.array([[[0.2, 0.8]]])  # 1 -> 2
    mix = np.array([[[0.5, 0.5], [0.1, 0.9]]])  # rows already sum to 1
    np.testing.assert_allclose(ra.end_to_end([stem, None, mix]), [[0.2 * 0.5 + 0.8 * 0.1, 0.2 * 0.5 + 0.8 * 0.9]])


def test_linear_cka_invariances():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert ra.linear_cka(x, x) == pytest.approx(1.0)
    assert ra.linear_cka(x, 3.0 * x @ q + 1.0) == pytest.approx(1.0)  # rotation, scale and shift
    assert ra.linear_cka(x, rng.normal(size=(200, 8))) < 0.2
    feats = np.stack([x, x @ q], 1)  # (N, m=2, C)
    assert ra.path_cka(feats) == pytest.approx(1.0)
    assert math.isnan(ra.path_cka(x[:, None, :]))


def test_gini():
    assert ra.gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert ra.gini([0, 0, 0, 5]) == pytest.approx(0.75)
    assert ra.gini([0, 0]) == 0.0


def test_predict_and_path_ablation_on_a_tiny_net():
    torch.manual_seed(0)
    ds = load_dataset("synthetic", "test").subset(60)
    model = create_model("multipath_net", widths=(4, 8, 8), stem=4, convs_per_stage=1)
    out = ra.predict(model, ds, batch_size=25)  # several batches: tensors must be concatenated in order
    assert out["labels"].shape == (60,) and out["preds"].shape == (60,)
    assert [w.shape for w in out["routing"]] == [(60, 1, 2), (60, 2, 2), (60, 2, 2)]
    assert [f.shape for f in out["features"]] == [(60, 2, 4), (60, 2, 8), (60, 2, 8)]
    # In order: each batch equals a pass over that slice alone (the same computation, so bit for bit).
    part = lambda a, b: dataclasses.replace(ds, x=ds.x[a:b], y=ds.y[a:b])  # noqa: E731
    for a, b in ((0, 25), (25, 50), (50, 60)):
        alone = ra.predict(model, part(a, b), batch_size=25)
        assert np.array_equal(alone["routing"][2], out["routing"][2][a:b]) and np.array_equal(
            alone["features"][1], out["features"][1][a:b])
    # Eval mode uses no batch statistics: in a batch of the same size with other samples beside them, the first
    # twelve samples get exactly the same routing.
    mixed = dataclasses.replace(ds, x=torch.cat([ds.x[:12], ds.x[35:48]]), y=torch.cat([ds.y[:12], ds.y[35:48]]))
    other = ra.predict(model, mixed, batch_size=25)
    assert np.array_equal(other["routing"][2][:12], out["routing"][2][:12])
    abl = ra.path_ablation(model, ds, base=out)
    assert len(abl) == 3 * 2 * ds.y.unique().numel()
    assert np.isfinite(abl["drop"]).all() and abl["drop"].between(-1, 1).all()
    # Zeroing a path at the last stage removes its GAP features from the head's input.
    x = torch.randn(3, 3, 32, 32)
    model.eval()
    logits = model(x, ablate=(2, 1))
    assert torch.equal(model.path_features[2][:, 1], torch.zeros(3, 8))
    feats = torch.cat([model.path_features[2][:, 0], torch.zeros(3, 8)], 1)
    assert torch.equal(logits, model.head(feats))  # the head reads these very features (a zeroed path pools to 0)
    conc = ra.ablation_concentration(abl)
    assert len(conc) == 6 and conc["gini"].between(0, 1).all()


def test_routing_figures_render_to_png(tmp_path):
    """The notebook's figures draw from stored run results (here: the run function's output) and write a PNG."""
    from archlab.papers.multipath_routing import make_config
    from archlab.papers.multipath_routing import plots as mp
    from archlab.papers.multipath_routing.grid import run_configs
    from archlab.papers.multipath_routing.run import train_arm
    from archlab.store import RunStore
    from archlab.sweep import run_sweep

    cfg = make_config(profile="smoke")
    configs = [c for c in run_configs(cfg) if c["arm"] in ("mp2_none", "mp2_cross_connections")]
    runs = run_sweep(train_arm, configs, store=RunStore(tmp_path / "runs.sqlite"), verbose=False)
    assert set(runs["status"]) == {"ok"}
    res = runs.loc[runs["arm"] == "mp2_cross_connections", "result"].iloc[0]
    mi = [t for t in res["analysis"]["transitions"] if "mi" in t]
    assert len(mi) == 5 and all(np.isfinite([t["mi"], t["null_q99"], t["p_value"]]).all() for t in mi)
    figs = {"heat": mp.fig_heatmaps(res), "mi": mp.fig_mi_depth(runs, "synthetic", ["mp2_cross_connections"]),
            "abl": mp.fig_ablation(runs, "synthetic", ["mp2_none", "mp2_cross_connections"]),
            "cka": mp.fig_cka(runs, "synthetic", ["mp2_none", "mp2_cross_connections"])}
    for name, fig in figs.items():
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_live_view_trains_once_per_setting_and_ablation_changes_accuracy():
    """The live widget's view: a routing panel per transition between paths, the per-class table with the ablated
    column, and the training cached (a second call with another class or path reuses the trained net)."""
    from archlab.papers.multipath_routing import interactive as ia

    ia.train_small.cache_clear()
    fig, table = ia.routing_view("synthetic", tau=0.5, epochs=1, cls="3", ablate="stage 2, path 1")
    assert len(fig.axes) == 6 and list(table.columns) == ["class", "acc % intact", "acc % with stage 2, path 1 zeroed"]
    assert table["acc % intact"].between(0, 100).all()
    fig2, table2 = ia.routing_view("synthetic", tau=0.5, epochs=1, cls="0", ablate="none")
    assert ia.train_small.cache_info().hits == 1 and list(table2.columns) == ["class", "acc % intact"]
    assert table2["acc % intact"].equals(table["acc % intact"])
    with pytest.raises(ValueError, match="valid"):
        ia.routing_view("synthetic", tau=0.5, epochs=1, ablate="stage 9")
