"""The notebook config: bad input is refused before any training, naming the valid choices; the run configs share
one recipe and one set of seeds, so every comparison is paired; the profiles hold what the verdicts need."""
import pytest

from archlab.config import ConfigError
from archlab.papers.leaderboard import PROFILES, make_config
from archlab.papers.leaderboard.claims import DESIGNS
from archlab.papers.leaderboard.grid import CPU_ENTRIES, PROBE_FACTOR, RECIPE
from archlab.papers.leaderboard.models import BASELINE, ENTRIES


@pytest.mark.parametrize("params,match", [
    (dict(entries=["resnet", "resnet50"]), "resnet50.*valid entries"),
    (dict(budgets=[123_456]), r"123456.*valid budgets: \[50000\]"),
    (dict(seeds=[3]), "at least 2 seeds"),
    (dict(seeds=2), "must be a list of integers"),
    (dict(epochs=1), "at least 2 epochs"),
    (dict(executor="slurm"), "choose one of"),
    (dict(profile="huge"), "choose one of"),
    (dict(width=3), "unknown parameter"),
])
def test_bad_parameters_are_refused_with_the_valid_choices(params, match):
    with pytest.raises(ConfigError, match=match):
        make_config(profile=params.pop("profile", "cpu"), **params)


def test_every_run_shares_the_recipe_and_the_seeds():
    cfg = make_config(profile="cpu")
    configs = cfg.configs(device="cpu")
    compared = [c for c in configs if c["role"] == "seed"]
    assert len(compared) == len(cfg.pairs()) * PROFILES["cpu"]["seeds"]
    recipes = {tuple(sorted((k, v) for k, v in c["train"].items() if k != "seed")) for c in compared}
    assert len(recipes) == 1
    assert all(c["train"][k] == v for c in configs for k, v in RECIPE.items())
    seeds = {}
    for c in compared:
        seeds.setdefault((c["entry"], c["budget"]), set()).add(c["train"]["seed"])
    assert len({frozenset(s) for s in seeds.values()}) == 1  # every entry has the same seeds: paired by seed


def test_each_entry_has_one_longer_probe_under_the_same_recipe():
    cfg = make_config(profile="cpu")
    epochs = PROFILES["cpu"]["epochs"]
    probes = [c for c in cfg.configs(device="cpu") if c["role"] == "probe"]
    assert sorted((c["entry"], c["budget"]) for c in probes) == sorted(cfg.pairs())
    assert {c["train"]["epochs"] for c in probes} == {PROBE_FACTOR * epochs}
    assert {c["train"]["seed"] for c in probes} == {0}
    assert cfg.plan()["test_size"] is None  # the full test split: the verdicts are judged on test accuracy


def test_the_cpu_profile_holds_every_design_it_judges_and_the_baseline():
    cfg = make_config(profile="cpu")
    trained = {e for e, _ in cfg.pairs()}
    assert trained == set(CPU_ENTRIES) and BASELINE in trained
    assert {DESIGNS[c] for c in ("C1", "C2", "C3")} <= trained  # C4 needs a budget SensLI fits: not on cpu


def test_restricting_entries_and_budgets():
    cfg = make_config(profile="gpu", entries=["resnet", "sensli"], budgets=[800_000])
    assert cfg.pairs() == [("resnet", 800_000), ("sensli", 800_000)]
    sensli = [c for c in cfg.configs() if c["entry"] == "sensli"]
    assert {(c["role"], c["insert_at"]) for c in sensli} == {("seed", PROFILES["gpu"]["epochs"] // 2),
                                                            ("probe", PROFILES["gpu"]["epochs"])}
    assert "not at budget" not in cfg.describe()


def test_entries_name_registered_models_and_their_papers():
    from archlab.models import list_models

    assert {e.model for e in ENTRIES.values()} <= set(list_models())
    assert {e.paper for e in ENTRIES.values()} == {"1", "2", "3", "4"}
