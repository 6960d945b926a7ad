"""Paper 3, E6 (claims C8, C8b): the two-context data builder, MI(domain; routing) against its null, E6 end to end,
and the notebook's path when every run of E6 raises."""
import importlib

import numpy as np
import pytest
import torch

from archlab.config import ConfigError
from archlab.data import ArrayDataset, load_dataset
from archlab.models import create_model
from archlab.papers.multipath_routing import contexts as mx
from archlab.papers.multipath_routing import routing as ra
from archlab.runs import Runs, failures


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convs: with two threads on two cores that other work also uses, the threads mostly wait on each other
    (7x slower measured); one thread keeps these tests at seconds either way."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny_images(per_class=(5, 6, 7)):
    """A uint8 image set with odd and even class counts."""
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(per_class)])
    x = torch.randint(0, 256, (len(y), 3, 4, 4), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return ArrayDataset(x, y, len(per_class), (0.4, 0.5, 0.6), (0.2, 0.25, 0.3), "tiny", ("a", "b", "c"))


def test_two_contexts_is_balanced_per_class_inverts_exactly_and_is_seeded():
    ds = _tiny_images()
    mixed, domain = mx.two_contexts(ds, seed=3)
    assert torch.equal(mixed.y, ds.y) and mixed.num_classes == ds.num_classes and mixed.name == "tiny+inverted"
    for c, n in enumerate((5, 6, 7)):
        assert int(domain[ds.y == c].sum()) == n // 2  # half of every class inverted (odd: one more as-is)
    inv = domain.bool()
    assert torch.equal(mixed.x[inv], 255 - ds.x[inv]) and torch.equal(mixed.x[~inv], ds.x[~inv])
    assert mixed.x.dtype == torch.uint8
    again, same = mx.two_contexts(ds, seed=3)
    assert torch.equal(same, domain) and torch.equal(again.x, mixed.x)
    assert not torch.equal(mx.two_contexts(ds, seed=4)[1], domain)


def test_mixture_statistics_are_those_of_images_plus_their_inversions():
    """An exact identity of the sample moments (mean 1/2, var s^2 + (m - 1/2)^2), checked in float64: rounding over
    these 8,000 values per channel stays near 1e-15, far inside the 1e-10 tolerance."""
    scale = torch.tensor([0.5, 1.0, 0.8], dtype=torch.float64)[:, None, None]  # channels of different mean/spread
    x = torch.rand(2000, 3, 2, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * scale
    both = torch.cat([x, 1 - x])
    per_channel = lambda t, f: tuple(f(t.transpose(0, 1).reshape(3, -1)).tolist())  # noqa: E731
    mean, std = mx.mixture_stats(per_channel(x, lambda v: v.mean(1)), per_channel(x, lambda v: v.std(1, correction=0)))
    assert mean == pytest.approx(per_channel(both, lambda v: v.mean(1)), abs=1e-10)
    assert std == pytest.approx(per_channel(both, lambda v: v.std(1, correction=0)), abs=1e-10)


def test_run_splits_names_and_bad_input():
    train, test, domain = mx.load_run_splits("synthetic+inverted", 100, 60)
    plain = load_dataset("synthetic", "test").subset(60)
    assert len(train) == 100 and len(test) == len(domain) == 60 and int(domain.sum()) <= 30
    assert torch.equal(test.x[domain == 1], 255 - plain.x[domain == 1]) and test.mean == (0.5, 0.5, 0.5)
    assert mx.load_run_splits("synthetic", 100, 60)[2] is None
    assert mx.base_dataset(mx.context_dataset("cifar10")) == "cifar10" == mx.base_dataset("cifar10")
    with pytest.raises(ConfigError, match="already a two-context set"):
        mx.context_dataset("cifar10+inverted")
    with pytest.raises(ConfigError, match="uint8"):
        mx.two_contexts(load_dataset("spirals", "test"))


def test_mi_domain_above_null_when_routing_encodes_domain_and_within_it_otherwise():
    rng = np.random.default_rng(0)
    domain = np.repeat([0, 1], 200)
    w = np.where(domain[:, None, None] == 1, [[0.8, 0.2], [0.3, 0.7]], [[0.2, 0.8], [0.7, 0.3]])
    w = w + rng.uniform(0, 0.05, w.shape)
    w = w / w.sum(1, keepdims=True)  # (N, m_in, n_out), normalised over sources like CC
    enc = ra.mi_with_null(w, domain, permutations=200, seed=0)
    assert enc["mi"] > enc["null_q99"] and enc["p_value"] == pytest.approx(1 / 201)
    noise = rng.uniform(0.2, 0.8, w.shape)
    blind = ra.mi_with_null(noise / noise.sum(1, keepdims=True), domain, permutations=200, seed=0)
    assert blind["p_value"] > 0.05 and blind["mi"] < enc["mi"] / 100


def test_analyse_run_adds_domain_statistics_for_multipath_and_accuracy_for_every_arm():
    torch.manual_seed(0)
    _, test, domain = mx.load_run_splits("synthetic+inverted", 64, 64)
    mp = mx.analyse_run(create_model("multipath_net", widths=(4, 8, 8), stem=4, convs_per_stage=1), test, domain,
                        device="cpu", permutations=100, seed=0)
    ts = [t for t in mp["analysis"]["transitions"] if "domain_mi" in t]
    assert len(ts) == 2 and all(np.isfinite([t["domain_mi"], t["domain_null_q99"], t["domain_p_value"]]).all()
                                for t in ts)
    assert mp["domain_mi_min_p"] == min(t["domain_p_value"] for t in ts) and "mi" in ts[0]  # class MI kept
    assert {r["domain"] for r in mp["analysis"]["domain_ablation"]} == {0, 1}
    assert 0 <= mp["acc_original"] <= 1 and 0 <= mp["acc_inverted"] <= 1
    sp = mx.analyse_run(create_model("mp_plain_net", widths=(4, 8, 8), stem=4), test, domain, device="cpu",
                        permutations=100, seed=0)
    assert set(sp) == {"acc_original", "acc_inverted"}
    assert mx.analyse_run(create_model("mp_plain_net", widths=(4, 8, 8), stem=4), test, None, device="cpu",
                          permutations=100, seed=0) == {}


def test_e6_analyses_both_domains_and_refuses_a_set_without_one():
    """The analysed subset of an E6 test set holds both domains (a draw along the contexts' own permutation held
    inverted images only, and every per-domain number came out NaN); a set without a domain is refused."""
    import importlib

    from archlab.papers.multipath_routing import make_config
    from archlab.papers.multipath_routing.grid import E6_ANALYSIS_SEED, run_configs

    run = importlib.import_module("archlab.papers.multipath_routing.run")
    mixed, domain = mx.two_contexts(_tiny_images((40, 40, 40)))
    assert float(run.analysis_subset(mixed, domain, 30, 0)[1].float().mean()) == 1.0  # the collision
    share = float(run.analysis_subset(mixed, domain, 30, E6_ANALYSIS_SEED)[1].float().mean())
    assert 0.2 < share < 0.8
    e6 = [c for c in run_configs(make_config(profile="cpu"), matched=False) if c["dataset"].endswith(mx.SUFFIX)]
    assert e6 and all(c["analysis_seed"] == E6_ANALYSIS_SEED for c in e6)
    one = torch.ones(len(mixed), dtype=torch.long)
    with pytest.raises(ValueError, match="no original image"):
        mx.analyse_run(create_model("mp_plain_net", widths=(4, 8, 8), stem=4), mixed, one, device="cpu",
                       permutations=10, seed=0)


def _smoke_e6(tmp_path, monkeypatch=None):
    """E6's smoke runs on a quarter of smoke's data, plus MP2-CC and SP-wide on the first set (C1's arms)."""
    from archlab.papers.multipath_routing import make_config
    from archlab.papers.multipath_routing.grid import run_configs
    from archlab.papers.multipath_routing.run import sweep
    from archlab.store import RunStore

    cfg = make_config(profile="smoke")
    configs = [{**c, "train_size": 128, "test_size": 128} for c in run_configs(cfg)
               if c["arm"] in ("sp_wide", "mp2_cross_connections")]
    return cfg, sweep(cfg, configs, RunStore(tmp_path / "runs.sqlite"))


def test_e6_runs_tables_figure_and_verdicts(tmp_path):
    """E6 end to end on the smoke profile: planned apart from E1 (own dataset name), trained through the run
    function, tabulated, drawn to a PNG, and judged by the same code as every profile."""
    from archlab.papers.multipath_routing import CLAIMS, analysis, make_config, verdicts
    from archlab.papers.multipath_routing import plots as mp
    from archlab.papers.multipath_routing.grid import arms, run_configs

    cfg = make_config(profile="smoke")
    e6 = [c for c in run_configs(cfg) if c["dataset"] == "synthetic+inverted"]
    assert sorted({c["arm"] for c in e6}) == sorted(arms(cfg)["E6"])
    cfg, runs = _smoke_e6(tmp_path)
    assert set(runs["status"]) == {"ok"}
    tables = analysis.context_tables(runs, "synthetic+inverted")
    assert len(tables["accuracy"]) == 2 and set(tables["mi"]["transition"]) == {1, 2, 3, 4, 5}
    assert len(tables["ablation"]) == 6  # 3 stages x 2 paths, a drop per domain
    fig = mp.fig_contexts(runs, "synthetic+inverted")
    fig.savefig(tmp_path / "contexts.png")
    assert (tmp_path / "contexts.png").stat().st_size > 1000
    rows = {r["id"]: r for r in verdicts(Runs(cfg, arms=runs), "smoke")}
    assert set(rows) == {c.id for c in CLAIMS}
    assert rows["C8b"]["seeds"] == "2/2" and "original" in rows["C8b"]["measured"]
    assert rows["C8"]["regime_measured"] and rows["C4"]["verdict"] == "not run"  # SP-deeper was not in this sweep


def test_a_run_function_that_raises_leaves_its_claims_not_run(tmp_path, monkeypatch):
    """Every E6 run raises (as a missing file would): the runs are recorded with the error, the tables and figures
    draw, C8 and C8b are "not run" naming the error, and C1 on the other runs is judged as usual."""
    from archlab.papers.multipath_routing import analysis, verdicts
    from archlab.papers.multipath_routing import plots as mp

    real = mx.load_run_splits

    def broken(name, *args):
        if name.endswith(mx.SUFFIX):
            raise RuntimeError(f"cannot build {name}")
        return real(name, *args)

    monkeypatch.setattr(importlib.import_module("archlab.papers.multipath_routing.run"), "load_run_splits", broken)
    cfg, runs = _smoke_e6(tmp_path)
    six = runs["dataset"] == "synthetic+inverted"
    assert set(runs.loc[six, "status"]) == {"failed"} and set(runs.loc[~six, "status"]) == {"ok"}
    assert len(failures({"runs": runs}, ["arm", "dataset", "seed"])) == six.sum()
    assert analysis.context_tables(runs, "synthetic+inverted")["mi"].empty
    mp.fig_contexts(runs, "synthetic+inverted").savefig(tmp_path / "c.png")
    rows = {r["id"]: r for r in verdicts(Runs(cfg, arms=runs), "smoke")}
    for cid in ("C8", "C8b"):
        assert rows[cid]["verdict"] == "not run" and "cannot build synthetic+inverted" in rows[cid]["note"]
    assert rows["C1"]["seeds"] == "2/2" and rows["C1"]["verdict"] != "not run"
