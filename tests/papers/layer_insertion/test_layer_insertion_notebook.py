"""The notebook survives a failed experiment: its code cells, run in-process at the smoke profile with the CNN run
function raising as a missing dataset would, show the failures, mark the CNN claims "not run" and go on."""
import importlib
import json
from pathlib import Path

import matplotlib

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "04_layer_insertion.ipynb"


def code_cells():
    nb = json.loads(NOTEBOOK.read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_is_stripped_cites_its_methods_note_and_names_its_package():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["archlab"]["package"] == "archlab.papers.layer_insertion"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code_cells())
    first = "".join(nb["cells"][0]["source"])
    assert "](../docs/papers/layer_insertion.md)" in first and "](https://arxiv.org/abs/2311.15995" in first
    assert "shared/" not in NOTEBOOK.read_text()
    assert (NOTEBOOK.parents[1] / "docs" / "papers" / "layer_insertion.md").is_file()


def test_notebook_survives_a_failed_experiment(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.setenv("ARCHLAB_RESULTS", str(tmp_path))
    monkeypatch.setenv("ARCHLAB_HEADLESS", "1")
    run_module = importlib.import_module("archlab.papers.layer_insertion.run")  # the package's `run` is the function

    def missing_data(config):
        raise RuntimeError("dataset 'cifar10' not found under /nowhere (test)")

    monkeypatch.setattr(run_module, "run_cnn_growth", missing_data)
    ns = {"display": lambda *a, **k: None}
    for cell in code_cells():
        exec(compile("".join(cell["source"]), f"<cell {cell['id']}>", "exec"), ns)
        if "parameters" in cell["metadata"].get("tags", []):
            ns.update(profile="smoke", studies=["fnn", "cnn"])
    failed, claims = ns["failed"], ns["claims"].set_index("id")
    assert set(failed["study"]) == {"cnn"} and len(failed) == len(ns["runs"]["cnn"]) > 0
    for cid in ("C14", "C15"):
        assert claims.loc[cid, "verdict"] == "not run" and "every run of cnn failed" in claims.loc[cid, "note"]
        assert "not found" in claims.loc[cid, "note"]
    assert claims.loc["C1", "verdict"] != "not run" and claims.loc["C16", "verdict"] == "not run"
    assert (tmp_path / "04_layer_insertion" / "claims.csv").is_file()
