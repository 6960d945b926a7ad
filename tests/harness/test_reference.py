"""archlab.reference and the reproduction report: a small reference built from the toy paper's smoke run renders
the notebook again with nothing trained, and after one stored result is perturbed the report flags exactly the
claim that rests on it."""
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from archlab.paths import REPO_ROOT
from archlab.reference import export, materialise, profiles
from archlab.report import flagged, reproduction, reproduction_text, write_reproduction

TOY = Path(__file__).resolve().parent / "toy_papers"
NOTEBOOK = TOY / "99_toy_paper.ipynb"


def _python(args, results, ref, **env):
    env = {**os.environ, "ARCHLAB_PAPERS_PATH": str(TOY), "ARCHLAB_RESULTS": str(results),
           "ARCHLAB_REFERENCE_DIR": str(ref), "ARCHLAB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT), **env}
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900, env=env, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def _claims(root: Path, stem="99_toy_paper") -> pd.DataFrame:
    return pd.read_csv(root / stem / "claims.csv")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The toy notebook run in the smoke profile, plus a second notebook's claims (paper 2's committed table, as if
    reached at smoke) that nothing changes, exported as the smoke reference."""
    tmp = tmp_path_factory.mktemp("reference")
    results, ref = tmp / "results", tmp / "ref"
    _python(["-m", "archlab.run", str(NOTEBOOK), "-p", "profile", "smoke"], results, ref)
    other = pd.read_csv(REPO_ROOT / "results" / "02_deep_vs_shallow" / "claims.csv").assign(profile="smoke")
    (results / "98_fixed").mkdir()
    other.to_csv(results / "98_fixed" / "claims.csv", index=False)
    export("smoke", results, ref)
    return results, ref


@pytest.mark.slow
def test_figures_render_from_the_reference_and_train_nothing(reference, tmp_path):
    results, ref = reference
    assert profiles(ref) == ["smoke"] and sorted(p.name for p in (ref / "smoke" / "claims").iterdir()) == [
        "98_fixed.csv", "99_toy_paper.csv"]
    assert json.loads((ref / "smoke" / "manifest.json").read_text())["runs"] == 3
    out = _python(["-m", "archlab.reference", "figures", str(NOTEBOOK), "--profile", "smoke"], tmp_path, ref)
    assert "nothing trained" in out and not (tmp_path / "runs.sqlite").exists()  # its store was a throw-away one
    pd.testing.assert_frame_equal(_claims(tmp_path), pd.read_csv(ref / "smoke" / "claims" / "99_toy_paper.csv"))
    # a profile without reference runs is refused by name, with the profiles that have some
    r = subprocess.run([sys.executable, "-m", "archlab.reference", "figures", str(NOTEBOOK), "--profile", "gpu"],
                       capture_output=True, text=True, env={**os.environ, "ARCHLAB_REFERENCE_DIR": str(ref)})
    assert r.returncode == 2 and "no gpu reference runs" in r.stderr and "smoke" in r.stderr


@pytest.mark.slow
def test_the_report_flags_exactly_the_perturbed_claim(reference, tmp_path):
    results, ref = reference
    same = reproduction(new_root=results, ref=ref)
    assert same["profile"] == "smoke" and len(same["claims"]) > 5 and not len(flagged(same))
    # One stored run's accuracy drops from ~0.98 to 0.6: the toy claim's effect leaves the reference interval.
    with sqlite3.connect(results / "runs.sqlite") as db:
        key, text = db.execute("SELECT key, result FROM runs ORDER BY key LIMIT 1").fetchone()
        db.execute("UPDATE runs SET result = ? WHERE key = ?", (json.dumps({**json.loads(text), "val_acc": 0.6}), key))
    _python(["-m", "archlab.run", str(NOTEBOOK), "-p", "profile", "smoke"], results, ref, ARCHLAB_NO_TRAINING="1")
    rep = reproduction(new_root=results, ref=ref)
    bad = flagged(rep)
    assert list(zip(bad.paper, bad.id)) == [("9", "C1")]
    assert bad.iloc[0].inside_ref_interval is False and bad.iloc[0].agreement.endswith("outside reference interval")
    assert "C1" in reproduction_text(rep) and set(rep["notebooks"].notebook) >= {"98_fixed", "99_toy_paper"}
    path = write_reproduction(rep, tmp_path)
    assert len(pd.read_csv(path)) == len(rep["claims"])
    none = reproduction("gpu", results, ref)
    assert "no gpu reference runs" in none["note"] and not len(none["claims"])


def test_export_refuses_claims_of_another_profile_and_replaces_the_old_one(tmp_path):
    results, ref = tmp_path / "results", tmp_path / "ref"
    from archlab.store import RunStore

    RunStore(results / "runs.sqlite", references=[]).put("k1", "toy.fn", {"x": 1}, "ok", {"y": 1})
    (results / "01_x").mkdir(parents=True)
    pd.DataFrame([{"paper": "1", "id": "C1", "verdict": "reproduced", "profile": "cpu"}]).to_csv(
        results / "01_x" / "claims.csv", index=False)
    with pytest.raises(ValueError, match="01_x"):
        export("smoke", results, ref)
    (ref / "cpu").mkdir(parents=True)
    (ref / "cpu" / "stale.csv").write_text("old")
    export("cpu", results, ref)
    assert not (ref / "cpu" / "stale.csv").exists() and (ref / "cpu" / "claims" / "01_x.csv").exists()
    db = materialise("cpu", ref)
    assert RunStore(tmp_path / "own.sqlite", references=[db]).get("k1")["result"] == {"y": 1}


def test_export_keeps_the_training_provenance_of_a_notebook_rendered_from_stored_runs(tmp_path, monkeypatch):
    """``make figures`` then ``make reference`` must not replace a notebook's training commit and run time by the
    render's: a notebook whose figures say they were rendered from stored runs keeps the old reference entry."""
    from archlab.provenance import provenance
    from archlab.store import RunStore

    results, ref = tmp_path / "results", tmp_path / "ref"
    RunStore(results / "runs.sqlite", references=[]).put("k1", "toy.fn", {"x": 1}, "ok", {"y": 1})
    for stem in ("01_trained", "02_rendered"):
        (results / stem / "figures").mkdir(parents=True)
        pd.DataFrame([{"paper": "1", "id": "C1", "verdict": "reproduced", "profile": "cpu"}]).to_csv(
            results / stem / "claims.csv", index=False)
    (results / "01_trained" / "figures" / "manifest.json").write_text(
        json.dumps({"figures": {"a": provenance("cpu")}}))
    monkeypatch.setenv("ARCHLAB_NO_TRAINING", "1")
    (results / "02_rendered" / "figures" / "manifest.json").write_text(
        json.dumps({"figures": {"a": provenance("cpu")}}))
    old = {"01_trained": {"git_commit": "old1", "run_time_s": 900.0}, "02_rendered": {"git_commit": "old2",
                                                                                      "run_time_s": 600.0}}
    (ref / "cpu").mkdir(parents=True)
    (ref / "cpu" / "manifest.json").write_text(json.dumps({"profile": "cpu", "notebooks": old}))
    export("cpu", results, ref)
    kept = json.loads((ref / "cpu" / "manifest.json").read_text())["notebooks"]
    assert kept["02_rendered"] == old["02_rendered"]  # rendered from stored runs: the training entry stays
    assert kept["01_trained"]["git_commit"] != "old1" and "rendered_from" not in kept["01_trained"]


def test_a_render_from_the_reference_shows_the_reproduction_that_made_it(tmp_path, monkeypatch):
    """Exported with the runs, the report of the reproduction that made them is what the overview shows when rendered
    from them (a self-comparison would match by construction), copied byte for byte."""
    from archlab.papers.overview import reproduction as overview
    from archlab.report import REPORT_FILES, stored_reproduction

    results, ref = tmp_path / "results", tmp_path / "ref"
    (results / "01_x").mkdir(parents=True)
    claims = pd.read_csv(REPO_ROOT / "results" / "02_deep_vs_shallow" / "claims.csv").assign(profile="smoke")
    claims.to_csv(results / "01_x" / "claims.csv", index=False)
    from archlab.store import RunStore

    assert len(RunStore(results / "runs.sqlite")) == 0  # an empty store: export needs one
    report = REPO_ROOT / "results" / "00_overview"
    (results / "00_overview").mkdir()
    for name in REPORT_FILES:
        (results / "00_overview" / name).write_bytes((report / name).read_bytes())
    export("smoke", results, ref)
    assert all((ref / "smoke" / name).read_bytes() == (report / name).read_bytes() for name in REPORT_FILES)
    stored = stored_reproduction("smoke", ref)
    n = len(pd.read_csv(report / REPORT_FILES[0]))
    assert f"in {n - len(flagged(stored))} of {n} verdicts" in stored["note"]
    assert stored_reproduction("gpu", ref) is None

    out = tmp_path / "render"
    monkeypatch.setenv("ARCHLAB_RESULTS", str(out))
    monkeypatch.setenv("ARCHLAB_REFERENCE_DIR", str(ref))
    monkeypatch.setenv("ARCHLAB_NO_TRAINING", "1")
    rep = overview.report("smoke")
    assert rep["note"].startswith("rendered from the smoke reference runs")
    assert all((out / "00_overview" / name).read_bytes() == (report / name).read_bytes() for name in REPORT_FILES)
