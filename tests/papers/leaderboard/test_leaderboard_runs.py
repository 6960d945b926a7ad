"""The run function on the smoke data: every method trains and reports the standard columns; SensLI grows once
inside the shared recipe; an ensemble's members train apart; and the notebook's analysis survives runs that fail."""
import importlib
import math

import matplotlib
import pandas as pd
import pytest
import torch

from archlab import testnoise
from archlab.papers.leaderboard import analysis, explore, make_config, plots, run, verdicts
from archlab.papers.leaderboard.budgets import match
from archlab.papers.leaderboard.models import Growable, build
from archlab.runs import Runs, failures

matplotlib.use("Agg")
R = importlib.import_module("archlab.papers.leaderboard.run")  # the module (the package exports its run function)


def _config(name: str, budget: int, epochs: int = 2, seed: int = 0) -> dict:
    cfg = make_config(profile="smoke", entries=[name], budgets=[budget], epochs=epochs, seeds=[0, 1])
    return next(c for c in cfg.configs("cpu") if c["train"]["seed"] == seed)


@pytest.mark.parametrize("name", ["resnet", "ens2"])
def test_a_run_reports_the_standard_columns(name):
    r = R.train_entry(_config(name, 12_000))
    assert r["status"] == "ok" and 0 <= r["test_acc"] <= 1 and r["params"] == match(name, 12_000, (3, 16, 16)).params
    assert r["train_flops"] > 0 and r["sec_per_epoch"] > 0 and len(r["history"]["epochs"]) == 2
    assert math.isfinite(r["loss_fall_q4"]) and r["epochs"] == 2
    assert r["n_test"] == 128 and testnoise.accuracy(r["test_bits"], r["n_test"]) == pytest.approx(r["test_acc"])
    if name == "ens2":
        assert len(r["member_acc"]) == 2


def test_sensli_grows_once_halfway_and_counts_its_sensitivity_pass():
    c = _config("sensli", 290_000, epochs=2)
    r = R.train_entry(c)
    assert r["status"] == "ok" and r["insert_epoch"] == c["insert_at"] == 1 and r["position"] in (0, 1, 2)
    assert len(r["widths_after"]) == len(r["widths_before"]) + 1 and r["params"] > r["params_start"]
    m = match("sensli", 290_000, (3, 16, 16))
    assert r["params_start"] == m.params and r["params"] <= m.params_max and r["flops"] > r["flops_start"]
    assert r["sensitivity_flops"] > 0 and len(r["sensitivities"]) == 3


def test_a_spare_gets_no_update_before_its_insertion_and_the_insertion_keeps_the_function():
    torch.manual_seed(0)
    m = match("sensli", 290_000, (3, 16, 16))
    net = build("growing_vgg", m.kwargs, input_shape=(3, 16, 16)).double()
    grow = Growable(net).double()
    opt = torch.optim.SGD(grow.parameters(), lr=0.1, momentum=0.9)
    spare = [p.detach().clone() for p in grow.spares.parameters()]
    x, y = torch.randn(4, 3, 16, 16, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(grow(x), y).backward()
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(spare, grow.spares.parameters()))  # untouched: no gradient
    with torch.no_grad():
        before = grow(x)
        grow.insert(1)
        after = grow(x)
    # a Dirac kernel on non-negative (post-ReLU) inputs: each output is 1 * its input plus exact zeros
    assert torch.equal(before, after)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(grow(x), y).backward()
    opt.step()
    assert not torch.equal(spare[2], grow.spares[1].conv.weight)  # now trained by the same optimizer


def test_the_notebook_survives_an_experiment_whose_runs_all_fail(store, monkeypatch):
    real = R.build

    def broken(model, kwargs, *a, **k):
        if model == "gp_elan":
            raise RuntimeError("this entry's model is broken")
        return real(model, kwargs, *a, **k)

    monkeypatch.setattr(R, "build", broken)
    cfg = make_config(profile="smoke", entries=["resnet", "elan"], budgets=[12_000], epochs=2)
    runs = run(cfg, store)
    table = runs.table
    failed = failures({"leaderboard": table}, analysis.KEYS)
    assert set(failed.entry) == {"elan"} and (failed.status == "failed").all()
    assert "broken" in failed.error.iloc[0]
    lb = analysis.leaderboard(table)
    assert list(lb.entry) == ["resnet"]
    rows = {r["id"]: r for r in verdicts(runs, "smoke")}
    assert rows["C1"]["verdict"] == "not run" and "ELAN" in rows["C1"]["note"]
    for cost in analysis.COST_AXES:
        plots.accuracy_vs(lb, cost)
    plots.ranked(lb, 12_000)
    fig, shown = explore.compare(lb, "all", "1", "params")
    assert list(shown.label) == ["ResNet"]


def test_analysis_of_no_runs_at_all():
    table = analysis.run_table(pd.DataFrame())
    assert table.empty and analysis.leaderboard(table).empty and failures({"leaderboard": table}, analysis.KEYS).empty
    plots.accuracy_vs(analysis.leaderboard(table), "params")
    assert [r["verdict"] for r in verdicts(Runs(None, table=table), "cpu")] == ["not run"] * 5


def test_the_live_view_matches_on_the_spot():
    fig, table = explore.design_at(100_000, "2", resolution=16)
    assert list(table.entry) == ["Sequential (deep)", "Parallel (shallow)"]
    assert (abs(table.params / 100_000 - 1) <= 0.05).all()
