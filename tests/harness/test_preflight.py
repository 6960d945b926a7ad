"""The data preflight of ``python -m archlab.run``: which datasets a notebook needs (each paper's ``datasets``, the
same as its ``jobs`` name), and that it answers without building jobs or matching costs, so a missing dataset stops
the runner in seconds."""
import pytest

from archlab.papers import PAPERS
from archlab.paths import REPO_ROOT
from archlab.preflight import check_data, datasets_of, needed
from archlab.run import main

# jobs() that take seconds (width and budget matching by FLOP counts): checked by `make test`, not `make test-fast`.
SLOW = {"gradient_paths", "multipath_routing", ("leaderboard", "gpu")}


def test_a_dataset_is_optional_only_when_every_job_naming_it_is():
    jobs = [dict(dataset="cifar10"), dict(dataset="cifar100", optional=True), dict(dataset="mnist", optional=True),
            dict(dataset="mnist")]
    assert datasets_of(jobs) == {"cifar10": False, "cifar100": True, "mnist": False}
    required, optional = needed({"a": {"cifar10": False, "cifar100": True}, "b": {"cifar10": False}})
    assert required == {"cifar10": ["a", "b"]} and optional == {"cifar100": ["a"]}


def test_an_absent_optional_dataset_is_noted_and_a_required_one_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLAB_DATA", str(tmp_path))
    monkeypatch.setenv("ARCHLAB_OFFLINE", "1")
    notes = []
    check_data({"nb": {"digits": False, "cifar100": True}}, log=notes.append)  # digits is embedded
    assert len(notes) == 1 and "'cifar100'" in notes[0] and "nb skip" in notes[0]
    with pytest.raises(FileNotFoundError, match="'cifar10' \\(needed by nb\\)"):
        check_data({"nb": {"cifar10": False, "cifar100": True}}, log=notes.append)


@pytest.mark.parametrize("paper, profile", [
    pytest.param(p, prof, marks=[pytest.mark.slow] if p in SLOW or (p, prof) in SLOW else [])
    for p in sorted(PAPERS) for prof in ("smoke", "cpu", "gpu", "paper")])
def test_every_papers_datasets_are_those_its_jobs_name(paper, profile):
    assert PAPERS[paper].datasets(profile) == datasets_of(PAPERS[paper].jobs(profile))


def test_the_runner_checks_data_without_building_jobs_or_matching_costs(tmp_path, monkeypatch, capsys):
    """Every notebook at the cpu profile, no data: exit 3 with the message, and no jobs(), width search, cost
    point or budget match was called (they took 15 of the 18 s this once needed)."""
    from archlab.papers.gradient_paths import grid as gp_grid
    from archlab.papers.leaderboard import grid as lb_grid
    from archlab.papers.multipath_routing import grid as mp_grid

    def refuse(*args, **kwargs):
        raise AssertionError("the preflight built jobs or matched costs")

    for p in PAPERS.values():
        monkeypatch.setattr(p, "jobs", refuse)
    monkeypatch.setattr(mp_grid, "searched_multipliers", refuse)
    monkeypatch.setattr(gp_grid, "cost_points", refuse)
    monkeypatch.setattr(lb_grid, "match", refuse)
    for name, value in (("ARCHLAB_DATA", tmp_path / "no-data"), ("ARCHLAB_RESULTS", tmp_path / "results"),
                        ("ARCHLAB_OFFLINE", "1")):
        monkeypatch.setenv(name, str(value))
    notebooks = sorted(str(p) for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))
    assert main([*notebooks, "-p", "profile", "cpu"]) == 3
    err = capsys.readouterr().err
    assert "dataset 'mnist' (needed by 00_overview" in err and "dataset 'cifar10' (needed by 01_gradient_paths" in err
    assert err.strip().splitlines()[-1] == "Nothing was trained and nothing was written."
    assert not (tmp_path / "results").exists()
