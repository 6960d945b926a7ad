"""The notebook runner refuses bad parameters before anything runs, naming the valid ones."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from archlab.config import ConfigError
from archlab.run import check_parameters, notebook_parameters

ROOT = Path(__file__).resolve().parents[2]
OVERVIEW = ROOT / "notebooks" / "00_overview.ipynb"


@pytest.fixture
def toy_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "auto"  # choices: auto, smoke, cpu, gpu, paper\n'
                                          'epochs = 3  # training epochs\nlr = 0.1\nname = "x"\nlayers = [2, 4]',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("open('ran.txt', 'w').write('ran')")]
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, path)
    return path


def test_parameters_are_read_from_the_tagged_cell(toy_notebook):
    spec = notebook_parameters(toy_notebook)
    assert spec["profile"]["choices"] == ["auto", "smoke", "cpu", "gpu", "paper"]
    assert spec["epochs"]["type"] == "int" and spec["lr"]["type"] == "float" and spec["layers"]["default"] == [2, 4]


@pytest.mark.parametrize("given,match", [({"epoch": 3}, r"unknown parameter.*'epochs'"),
                                         ({"epochs": "many"}, "should be of type int"),
                                         ({"epochs": True}, "number"),
                                         ({"profile": "laptop"}, r"choose from \['auto'"),
                                         ({"layers": 3}, "type list")])
def test_bad_parameters_are_refused(toy_notebook, given, match):
    with pytest.raises(ConfigError, match=match):
        check_parameters(toy_notebook, given)


def test_good_parameters_fill_defaults(toy_notebook):
    full = check_parameters(toy_notebook, {"lr": 1, "profile": "smoke"})
    assert full == {"profile": "smoke", "epochs": 3, "lr": 1, "name": "x", "layers": [2, 4]}


def test_config_factory_errors_surface_before_running():
    with pytest.raises(ConfigError, match="optimizers"):
        check_parameters(OVERVIEW, {"optimizers": []})


def test_cli_refuses_before_any_kernel_starts(toy_notebook):
    r = subprocess.run([sys.executable, "-m", "archlab.run", str(toy_notebook), "-p", "profile", "laptop"],
                       capture_output=True, text=True, cwd=toy_notebook.parent, timeout=120)
    assert r.returncode == 2 and "laptop" in r.stderr and "smoke" in r.stderr
    assert not (toy_notebook.parent / "ran.txt").exists()


def test_every_notebook_declares_a_tagged_profile_parameter():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        spec = notebook_parameters(nb)
        assert spec["profile"]["default"] == "auto", nb.name
        assert spec["profile"]["choices"] == ["auto", "smoke", "cpu", "gpu", "paper"], nb.name


def test_notebooks_are_committed_without_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"


def test_missing_data_stops_before_any_kernel_with_the_ways_out(tmp_path):
    """No dataset copy, no internet: one message naming the dataset, the paths searched and three ways out, as the
    last lines; nothing is trained and neither the results folder nor the run store is created."""
    import os

    env = {**os.environ, "ARCHLAB_DATA": str(tmp_path / "no-data"), "ARCHLAB_RESULTS": str(tmp_path / "results"),
           "ARCHLAB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "archlab.run", str(OVERVIEW), "-p", "profile", "cpu"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 3, r.stderr
    tail = r.stderr.strip().splitlines()[-12:]
    text = "\n".join(tail)
    assert "dataset 'mnist'" in text and "00_overview" in text and str(tmp_path / "no-data") in text
    assert "make data OFFLINE=" in text and "PROFILE=smoke" in text and "internet" in text
    assert tail[-1] == "Nothing was trained and nothing was written."
    assert not (tmp_path / "results").exists()
