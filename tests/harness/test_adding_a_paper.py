"""docs/adding-a-paper.md, followed once: a tiny paper package and its notebook (tests/harness/toy_papers/) join the
companion through ``ARCHLAB_PAPERS_PATH`` alone, with no change to the harness or bench/: the registry finds it,
the runner checks its parameters and dry-runs its profiles, its notebook runs and writes its verdict, the overview
collects its claim and bench projects its jobs."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from archlab.paths import REPO_ROOT

TOY = Path(__file__).resolve().parent / "toy_papers"
NOTEBOOK = TOY / "99_toy_paper.ipynb"


def _python(code_or_args, tmp_path, **env):
    env = {**os.environ, "ARCHLAB_PAPERS_PATH": str(TOY), "ARCHLAB_RESULTS": str(tmp_path / "results"),
           "ARCHLAB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT), **env}
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def test_the_registry_overview_and_bench_find_the_new_paper(tmp_path):
    out = _python("import json; from archlab.papers import PAPERS, all_claims; from bench.jobs import NOTEBOOKS; "
                  "from archlab.models import list_models; "
                  "print(json.dumps([list(PAPERS), [c.paper + '/' + c.id for c in all_claims()], list(NOTEBOOKS), "
                  "list_models('toy_*'), len(NOTEBOOKS['99_toy_paper']('paper'))]))", tmp_path)
    papers, claims, notebooks, models, jobs = json.loads(out.strip().splitlines()[-1])
    assert papers[-1] == "toy_paper" and "9/C1" in claims and "99_toy_paper" in notebooks
    assert models == ["toy_mlp"] and jobs == 10


def test_the_runner_checks_dry_runs_and_runs_its_notebook(tmp_path):
    with pytest.raises(AssertionError, match="seeds"):
        _python([ "-m", "archlab.run", str(NOTEBOOK), "-p", "seeds", "-1"], tmp_path)
    assert "1 architectures" in _python(["-m", "archlab.run", str(NOTEBOOK), "--dry-run", "-p", "profile", "paper"],
                                        tmp_path)
    _python(["-m", "archlab.run", str(NOTEBOOK), "-p", "profile", "smoke"], tmp_path)
    claims = pd.read_csv(tmp_path / "results" / "99_toy_paper" / "claims.csv")
    row = claims.iloc[0]
    assert row.id == "C1" and row.kind == "directional" and str(row.seeds) == "3" and "converged" not in str(row.note)
    assert row.verdict in ("reproduced", "inconclusive", "out of regime")  # computed by the shared rules, not fixed
    assert (tmp_path / "results" / "99_toy_paper" / "figures" / "manifest.json").exists()
    meta = json.loads((tmp_path / "results" / "99_toy_paper" / "99_toy_paper.ipynb").read_text())["metadata"]
    assert meta["papermill"]["input_path"] == "tests/harness/toy_papers/99_toy_paper.ipynb"  # never the build path
    assert meta["papermill"]["output_path"] == "99_toy_paper.ipynb"


def test_the_toy_paper_imports_only_the_harness():
    for path in (TOY / "toy_paper").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("archlab"):
                assert not node.module.startswith("archlab.papers"), f"{path.name} imports {node.module}"
