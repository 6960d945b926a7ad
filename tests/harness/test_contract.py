"""One paper contract: every paper package's ``run`` and ``verdicts`` have one signature, its config derives from
one base, its claims go through one verdict loop, and no paper package has an import cycle."""
import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from archlab.claims import Claim, Regime
from archlab.config import ConfigError, PaperConfig
from archlab.outcomes import directional
from archlab.runs import Runs, by_seed, failures, last_quarter_fall, why_not_judged
from archlab.verdicts import Measured, evaluate


def _papers():
    from archlab.papers import PAPERS

    return PAPERS


@pytest.mark.parametrize("name", sorted(_papers()))
def test_run_and_verdicts_have_one_signature(name):
    P = _papers()[name]
    assert list(inspect.signature(P.run).parameters) == ["cfg", "store", "device"], name
    assert list(inspect.signature(P.verdicts).parameters) == ["runs", "profile"], name
    assert issubclass(P.Config, PaperConfig), f"{name}: Config does not derive from archlab.config.PaperConfig"


@pytest.mark.parametrize("name", sorted(_papers()))
def test_notebook_seeds_parameter_is_a_list(name):
    cfg = _papers()[name].make_config(profile="smoke")
    assert isinstance(cfg.seeds, tuple) and cfg.resolved_seeds and all(isinstance(s, int) for s in cfg.resolved_seeds)


@dataclass(frozen=True)
class _Cfg(PaperConfig):
    PROFILES = {p: {"seeds": 3 if p == "cpu" else [7]} for p in ("smoke", "cpu", "gpu", "paper")}
    epochs: int = 0


def test_paper_config_resolves_seeds_and_refuses_bad_ones():
    assert _Cfg.from_dict(profile="cpu").resolved_seeds == (0, 1, 2)
    assert _Cfg.from_dict(profile="smoke").resolved_seeds == (7,)
    assert _Cfg.from_dict(profile="cpu", seeds=[4, 5]).resolved_seeds == (4, 5)
    with pytest.raises(ConfigError, match="twice"):
        _Cfg.from_dict(seeds=[1, 1])
    for bad in ([1.5], 3, -1):
        with pytest.raises(ConfigError, match="must be a list of integers"):
            _Cfg.from_dict(seeds=bad)
    with pytest.raises(ConfigError, match="unknown parameter.*valid parameters"):
        _Cfg.from_dict(seed=1)


def test_runs_reads_experiments_by_name_and_names_the_ones_it_has():
    runs = Runs("cfg", e2=pd.DataFrame({"seed": [0]}))
    assert runs.e2 is runs["e2"] and runs.cfg == "cfg"
    with pytest.raises(AttributeError, match=r"no experiment 'e3'.*\['e2'\]"):
        runs.e3


def test_why_not_judged_and_failures():
    ok = pd.DataFrame({"seed": [0, 1], "status": ["ok", "failed"], "error": [None, "boom"], "arm": ["a", "a"]})
    bad = ok.assign(status=["failed", "oom"], error=["first", "second"])
    assert why_not_judged(ok, "e2") is None
    assert why_not_judged(None, "e2") == "experiment e2 has no runs in this profile"
    assert why_not_judged(bad, "e3", "study") == "every run of e3 failed (2 runs): first"
    f = failures({"e2": ok, "e3": bad}, ["arm", "seed"])
    assert list(f.columns) == ["experiment", "arm", "seed", "status", "error"] and len(f) == 3
    assert np.array_equal(by_seed(ok, [1, 5, 0], "seed"), [1, np.nan, 0], equal_nan=True)


def test_last_quarter_fall_is_the_fall_over_the_last_quarter():
    assert last_quarter_fall([4.0, 3.0, 2.0, 1.0]) == pytest.approx((2.0 - 1.0) / 2.0)  # L[q]: epoch 3 of 4
    assert last_quarter_fall([2.0, 2.0]) == 0.0
    assert np.isnan(last_quarter_fall([1.0])) and np.isnan(last_quarter_fall([1.0, np.nan, 0.5]))


def _claims():
    trained = Regime("trained", "final training loss", "<", 1.0)
    kw = dict(unit="pp", min_effect=0.5, min_effect_source="a stated convention")
    return [Claim("C1", "9", "A beats B.", "interval above 0.5", requires=(trained,), **kw),
            Claim("C2", "9", "B beats A.", "interval above 0.5", **kw)]


def test_evaluate_judges_each_claim_once_through_its_measure():
    a, b = np.array([3.0, 4.0, 5.0, 4.5]), np.array([1.0, 1.5, 2.0, 1.0])
    measures = {"C1": lambda c, r: Measured(directional(c, r["a"], r["b"], paired=True), "a vs b", {"trained": 0.5}),
                "C2": lambda c, r: Measured(directional(c, r["b"], r["a"], paired=True))}
    rows = evaluate(_claims(), measures, {"a": a, "b": b}, "cpu")
    assert [r["id"] for r in rows] == ["C1", "C2"]
    assert [r["verdict"] for r in rows] == ["reproduced", "not reproduced"]
    assert rows[0]["measured"].startswith("a vs b") and "final training loss < 1" in rows[0]["regime"]
    out = evaluate(_claims(), {**measures, "C1": lambda c, r: Measured(directional(c, r["a"], r["b"], paired=True),
                                                                       regimes={"trained": 2.0})}, {"a": a, "b": b}, "cpu")
    assert out[0]["verdict"] == "out of regime"


def test_evaluate_says_not_run_with_the_reason_and_refuses_a_missing_measure():
    def never(c, r):
        raise AssertionError("a claim that cannot be judged is never measured")

    rows = evaluate(_claims(), {"C1": never, "C2": never}, {}, "cpu", cannot_judge=lambda c, r: f"{c.id}: no runs")
    assert [r["verdict"] for r in rows] == ["not run", "not run"] and "C1: no runs" in rows[0]["note"]
    with pytest.raises(ValueError, match=r"no measure for claim\(s\) \['C2'\]"):
        evaluate(_claims(), {"C1": never}, {}, "cpu")
    with pytest.raises(TypeError, match="not Measured"):
        evaluate(_claims()[1:], {"C2": lambda c, r: 1.0}, {}, "cpu")
