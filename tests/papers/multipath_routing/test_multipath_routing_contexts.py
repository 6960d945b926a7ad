"""Paper 3, E6 (claim C8): the two-context data builder, MI(domain; routing) against its null, and C8's decision on
known inputs."""
import numpy as np
import pytest
import torch

from archlab.config import ConfigError
from archlab.data import ArrayDataset, load_dataset
from archlab.models import create_model
from archlab.papers.multipath_routing import contexts as mx
from archlab.papers.multipath_routing import routing as ra
from archlab.papers.multipath_routing.claims import c8_outcome


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


@pytest.mark.parametrize("min_p,cc,sw,smoke,expected", [
    ([0.005] * 3, [0.50, 0.51, 0.52], [0.50, 0.51, 0.52], False, "reproduced"),  # tie, MI above null
    ([0.005] * 3, [0.55, 0.56, 0.57], [0.50, 0.51, 0.52], False, "reproduced"),  # beats
    ([0.005, 0.005, 0.3], [0.50, 0.51, 0.52], [0.50, 0.51, 0.52], False, "not reproduced"),  # one seed in the null
    ([0.005] * 3, [0.40, 0.41, 0.42], [0.50, 0.51, 0.52], False, "not reproduced"),  # significantly lower
    ([0.005] * 3, [0.45, 0.55, 0.47], [0.50, 0.51, 0.52], False, "inconclusive"),  # 1.2 pp lower, not significant
    ([0.005] * 2, [0.50, 0.51], [0.50, 0.51], False, "inconclusive"),  # too few seeds
    ([0.005] * 3, [0.50, 0.51, 0.52], [0.50, 0.51, 0.52], True, "inconclusive"),  # smoke
    ([], [], [0.5], False, "not run"),
])
def test_c8_outcome_on_known_inputs(min_p, cc, sw, smoke, expected):
    outcome, text = c8_outcome(*(np.asarray(v, float) for v in (min_p, cc, sw)), smoke=smoke)
    assert outcome == expected, text


def test_e6_runs_tables_figure_and_smoke_verdict(tmp_path):
    """E6 end to end on the smoke profile: planned apart from E1 (own dataset name), trained through the run
    function, tabulated, drawn to a PNG, and judged inconclusive (smoke)."""
    from archlab.papers.multipath_routing import CLAIMS, analysis, make_config
    from archlab.papers.multipath_routing import plots as mp
    from archlab.papers.multipath_routing.claims import c8_verdict
    from archlab.papers.multipath_routing.grid import arms, run_configs
    from archlab.papers.multipath_routing.run import train_arm
    from archlab.store import RunStore
    from archlab.sweep import run_sweep

    cfg = make_config(profile="smoke")
    e6 = [c for c in run_configs(cfg) if c["dataset"] == "synthetic+inverted"]
    assert sorted(c["arm"] for c in e6) == sorted(arms(cfg)["E6"])
    small = [{**c, "train_size": 128, "test_size": 128} for c in e6]  # a quarter of smoke's data: seconds
    runs = run_sweep(train_arm, small, store=RunStore(tmp_path / "runs.sqlite"), verbose=False)
    assert set(runs["status"]) == {"ok"}
    tables = analysis.context_tables(runs, "synthetic+inverted", 1)
    assert len(tables["accuracy"]) == 3 and set(tables["mi"]["transition"]) == {1, 2, 3, 4, 5}
    assert len(tables["ablation"]) == 6  # 3 stages x 2 paths, a drop per domain
    fig = mp.fig_contexts(runs, "synthetic+inverted", 1)
    fig.savefig(tmp_path / "contexts.png")
    assert (tmp_path / "contexts.png").stat().st_size > 1000
    c8 = c8_verdict(next(c for c in CLAIMS if c.id == "C8"), runs, "synthetic+inverted", 1, smoke=True)
    assert c8["verdict"] == "inconclusive" and "original" in c8["measured"]
