"""The headless trainer: a notebook's runs trained without papermill, widgets or Ray, into the store the notebook
then renders from with nothing left to train."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archlab.train_runs import main

ROOT = Path(__file__).parents[2]
NB = ROOT / "notebooks" / "00_overview.ipynb"  # the smallest smoke profile: two runs


def _env(results: Path) -> dict:
    return {**os.environ, "ARCHLAB_RESULTS": str(results), "ARCHLAB_HEADLESS": "1", "ARCHLAB_OFFLINE": "1",
            "MPLBACKEND": "Agg"}


def test_train_headless_then_the_notebook_renders_with_zero_runs_to_do(tmp_path):
    cmd = [sys.executable, "-m", "archlab.train_runs", str(NB), "-p", "profile", "smoke"]
    train = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert train.returncode == 0, train.stderr[-2000:]
    assert "[overview] 2 runs to do, 0 already stored" in train.stdout
    render = subprocess.run([sys.executable, "-m", "archlab.run", str(NB), "-p", "profile", "smoke"],
                            env=_env(tmp_path), capture_output=True, text=True, timeout=900)
    assert render.returncode == 0, render.stderr[-3000:]
    assert "[overview] 0 runs to do, 2 already stored" in render.stdout + render.stderr


@pytest.mark.parametrize("args, message", [
    (["--shard", "2/2"], "0 <= i < n"),
    (["-p", "profile", "laptop"], "laptop"),
    (["-p", "epochz", "3"], "epochz"),
])
def test_bad_input_is_refused_naming_the_value(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLAB_RESULTS", str(tmp_path))
    assert main([str(NB), *args]) == 2
    assert message in capsys.readouterr().err
