"""The CUDA-only code paths (bf16 autocast, channels_last, fused optimizers, the batched vmap step) run on a CPU
under ARCHLAB_FORCE_CUDA_PATHS=1, so what would break on a GPU breaks here first."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from archlab import cudapaths
from archlab.store import RunStore
from archlab.train import TrainConfig, autocast_dtype, make_optimizer

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("0*.ipynb"))


@pytest.fixture
def forced(monkeypatch):
    monkeypatch.setenv(cudapaths.ENV, "1")


def test_the_switch_takes_the_cuda_paths_and_refuses_a_bad_value(monkeypatch):
    assert not cudapaths.uses_cuda_paths(torch.device("cpu")) and cudapaths.uses_cuda_paths("cuda:0")
    monkeypatch.setenv(cudapaths.ENV, "1")
    assert autocast_dtype(TrainConfig(), torch.device("cpu")) == torch.bfloat16
    assert autocast_dtype(TrainConfig(precision="fp32"), torch.device("cpu")) is None
    monkeypatch.setenv(cudapaths.ENV, "yes")
    with pytest.raises(ValueError, match=r"'yes'.*'1'"):
        cudapaths.forced()


def _two_steps(fused_env: bool, monkeypatch) -> list[torch.Tensor]:
    """Two SGD steps on nets a and b, where b (a SensLI spare layer) gets its first gradient only in step 2."""
    monkeypatch.setenv(cudapaths.ENV, "1" if fused_env else "0")
    torch.manual_seed(0)
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    opt = make_optimizer(nn.ModuleList([a, b]), TrainConfig(optimizer="sgd", lr=0.1, weight_decay=1e-3))
    assert opt.defaults["fused"] is (True if fused_env else None)
    x = torch.randn(4, 3)
    for net in (a, nn.Sequential(a, b)):
        opt.zero_grad(set_to_none=True)
        net(x).square().sum().backward()
        opt.step()
    return [p.detach().clone() for p in (*a.parameters(), *b.parameters())]


def test_fused_sgd_takes_a_parameter_whose_first_gradient_comes_mid_run(monkeypatch):
    # torch's fused SGD raised "TypeError: expected Tensor as element ... but got NoneType" here (before the fix).
    fused, plain = _two_steps(True, monkeypatch), _two_steps(False, monkeypatch)
    for f, p in zip(fused, plain):
        torch.testing.assert_close(f, p)


def test_the_sensli_leaderboard_entry_trains_under_the_cuda_paths(forced):
    from archlab.papers.leaderboard import make_config
    from archlab.papers.leaderboard.run import train_entry

    config = next(c for c in make_config(profile="smoke").configs("cpu") if c["method"] == "sensli")
    result = train_entry(config)
    assert result["status"] == "ok" and "position" in result  # grown, then trained on with the new layer


def _params(nb: Path) -> dict:
    """The smoke profile, and the batched (vmap) step on where a paper has the switch (the gpu profile's way)."""
    from archlab.run import notebook_parameters

    return {"profile": "smoke", **({"batched": "on"} if "batched" in notebook_parameters(nb) else {})}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_papers_smoke_runs_train_under_the_cuda_paths(nb, forced, tmp_path):
    """The first unit of each of the notebook's sweeps (``--shard 0/1000``: one run or one batched group per sweep,
    which covers every run function; all of them would take ~15 min, bf16 being emulated on a CPU)."""
    from archlab.train_runs import train_notebook

    store = RunStore(tmp_path / "runs.sqlite")
    assert train_notebook(nb, _params(nb), store, shard="0/1000") > 0
    bad = [(r["fn"], r["status"], r["error"]) for r in store.runs() if r["status"] != "ok"]
    assert not bad, json.dumps(bad, default=str)[:2000]
