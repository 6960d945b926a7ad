"""Ray on a GPU machine, checked on the CPU: the GPU count reaches ray.init, fractional-GPU tasks are scheduled,
Ray's absence falls back to the local executor, and CPU-only runs reserve no GPU."""
import importlib
import importlib.util
import os
from pathlib import Path

import pytest
import torch

from archlab import profiles, sweep
from archlab.store import RunStore

from sweep_fns import gpu_ids


def test_fractional_gpu_tasks_schedule_and_finish_on_a_declared_gpu(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray instance from another test is running")
    # One GPU declared on a CPU machine: run_sweep must pass the count to ray.init itself (a Ray that had not been
    # told would never schedule a task that asks for a GPU share, and ray.wait would block for ever).
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    # Ray's workers import the run function by module name: give them this folder (pytest's sys.path is not theirs).
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    try:
        df = sweep.run_sweep(gpu_ids, [{"x": i} for i in range(3)], store=RunStore(tmp_path / "r.sqlite"),
                             executor="ray", gpus_per_run=0.5, verbose=False)
        assert ray.cluster_resources().get("GPU") == 1
    finally:
        ray.shutdown()
    assert list(df.status) == ["ok"] * 3, list(df.error)
    assert all(r["gpus"] == ["0"] for r in df.result)  # each task held a share of the one GPU


def test_without_ray_a_gpu_machine_runs_locally_with_a_notice(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    monkeypatch.setattr(profiles, "_NOTICED", set())
    assert sweep.auto_executor("gpu") == "local" and sweep.auto_executor("paper") == "local"
    out = capsys.readouterr().out
    assert out.count("Ray is not installed") == 1  # one line, not one per call


def test_cpu_only_spirals_runs_reserve_no_gpu(monkeypatch):
    from archlab.papers.layer_insertion import make_config

    li_run = importlib.import_module("archlab.papers.layer_insertion.run")  # the module; the package's run is its run()
    from archlab.papers.layer_insertion.grid import SPIRALS

    calls = []
    monkeypatch.setattr(li_run, "run_sweep", lambda fn, configs, **kw: calls.append((fn, kw)))
    li_run.run(make_config(profile="smoke"), store=None)
    spirals = [kw for fn, kw in calls if fn is li_run.run_growth_seeds]
    assert spirals and all(kw["gpus_per_run"] == 0 for kw in spirals)
    assert len(spirals) == len([s for s in li_run.grids(make_config(profile="smoke")) if s in SPIRALS])
