"""The GPU device check's rehearsal: the same steps on the CPU at tiny sizes, every step finishing."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))  # bench/ lives beside lib/ (as in test_bench.py)

from bench.device_check import main  # noqa: E402
from bench.device_runs import shorten  # noqa: E402


def test_shorten_keeps_an_insertion_inside_the_short_run():
    c = {"train": {"epochs": 30, "warmup_epochs": 2.0}, "insert_at": 10, "epochs": 30, "seed": 0}
    assert shorten(c) == {"train": {"epochs": 1, "warmup_epochs": 0.0}, "insert_at": 1, "epochs": 2, "seed": 0}


def test_the_rehearsal_runs_every_step_and_writes_json_and_log(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLAB_DATA", str(tmp_path / "data"))  # nothing carried: the data step unpacks nothing
    out = main(["--rehearse", "--out", str(tmp_path / "out")])
    written = json.loads((tmp_path / "out" / "device_check.json").read_text())
    assert written["rehearse"] and set(written["steps"]) == {"data", "tests", "runs", "bench"}
    failed = {k: v.get("error") for k, v in out["steps"].items() if not v["ok"]}
    assert not failed, failed
    runs = out["steps"]["runs"]["result"]
    assert {r["paper"] for r in runs} >= {"leaderboard", "layer_insertion", "deep_vs_shallow"}
    assert all(r["status"] == "ok" for r in runs), runs
    assert out["steps"]["tests"]["result"]["returncode"] == 0
    assert "--- bench" in (tmp_path / "out" / "device_check.log").read_text()
