"""Run store and sweeps: stored once, resumed after a kill, failures recorded, Ray equals local."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sweep_fns
from archlab.store import RunStore, run_key, run_or_load
from archlab.sweep import auto_executor, expand_grid, parse_shard, run_sweep

TESTS = Path(__file__).resolve().parent


def test_expand_grid():
    g = expand_grid({"a": [1, 2], "b": ["x", "y", "z"]}, c=0)
    assert len(g) == 6 and g[0] == {"a": 1, "b": "x", "c": 0} and g[-1] == {"a": 2, "b": "z", "c": 0}
    with pytest.raises(TypeError):
        expand_grid({"a": 1})


def test_key_depends_on_config_and_code_version():
    k = run_key(sweep_fns.square, {"x": 1})
    assert k == run_key(sweep_fns.square, {"x": 1}) and k != run_key(sweep_fns.square, {"x": 2})
    try:
        sweep_fns.square.code_version = 2
        assert run_key(sweep_fns.square, {"x": 1}) != k
    finally:
        sweep_fns.square.code_version = 1


def test_run_or_load_computes_once(store, tmp_path):
    cfg = {"x": 3, "marker": str(tmp_path)}
    assert run_or_load(sweep_fns.square, cfg, store=store)["y"] == 9
    assert run_or_load(sweep_fns.square, cfg, store=store)["y"] == 9
    assert len(list(tmp_path.glob("call-*"))) == 1


def test_failures_are_recorded_and_the_sweep_goes_on(store):
    configs = [{"x": 1}, {"x": 2, "fail": True}, {"x": 3, "oom": True}, {"x": 4, "diverge": True}, {"x": 5}]
    df = run_sweep(sweep_fns.square, configs, store=store, verbose=False)
    assert df.set_index("x").status.to_dict() == {1: "ok", 2: "failed", 3: "oom", 4: "diverged", 5: "ok"}
    assert "bad x=2" in df.set_index("x").error[2]
    assert df.set_index("x").y[5] == 25


def test_environmental_failures_are_retried_and_experiment_failures_kept(store, tmp_path):
    data = tmp_path / "toy-data"
    configs = [{"x": 1, "missing": str(data), "marker": str(tmp_path)}, {"x": 2, "fail": True, "marker": str(tmp_path)}]
    first = run_sweep(sweep_fns.square, configs, store=store, verbose=False).set_index("x")
    assert first.status.to_dict() == {1: "environment", 2: "failed"} and "not found" in first.error[1]
    data.mkdir()  # the user fixes the environment (e.g. `make data`) and simply reruns
    again = run_sweep(sweep_fns.square, configs, store=store, verbose=False).set_index("x")
    assert again.status.to_dict() == {1: "ok", 2: "failed"} and again.y[1] == 1
    assert len(list(tmp_path.glob("call-1-*"))) == 2 and len(list(tmp_path.glob("call-2-*"))) == 1
    assert run_or_load(sweep_fns.square, configs[0], store=store)["y"] == 1  # stored now, never rerun
    assert len(list(tmp_path.glob("call-1-*"))) == 2


def test_shards_partition_the_grid(store):
    configs = [{"x": i} for i in range(7)]
    run_sweep(sweep_fns.square, configs, store=store, shard="0/2", verbose=False)
    assert len(store) == 4
    df = run_sweep(sweep_fns.square, configs, store=store, shard=(1, 2), verbose=False)
    assert len(df) == 7 and (df.status == "ok").all()
    with pytest.raises(ValueError):
        parse_shard("2/2")


def test_killed_sweep_resumes_without_recomputing(tmp_path):
    db, marker = tmp_path / "runs.sqlite", tmp_path / "calls"
    marker.mkdir()
    configs = [{"x": i, "sleep": 0.3, "marker": str(marker)} for i in range(8)]
    script = textwrap.dedent(f"""
        import sweep_fns
        from archlab.store import RunStore
        from archlab.sweep import run_sweep
        run_sweep(sweep_fns.square, {configs!r}, store=RunStore({str(db)!r}), verbose=False)
    """)
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    store = None
    deadline = time.time() + 60
    while time.time() < deadline:
        if db.exists():
            store = RunStore(db)
            if len(store) >= 3:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_before = len(store)
    assert 3 <= finished_before < 8, "the sweep must be killed mid-way"
    calls_before = len(list(marker.iterdir()))
    df = run_sweep(sweep_fns.square, configs, store=store, verbose=False)
    assert (df.status == "ok").all() and len(df) == 8
    recomputed = len(list(marker.iterdir())) - calls_before
    assert recomputed == 8 - finished_before  # only runs that had not finished


@pytest.mark.slow
def test_ray_executor_matches_local_and_survives_a_killed_worker(tmp_path):
    ray = pytest.importorskip("ray")
    configs = [{"x": i, "seed": i} for i in range(4)]
    local = run_sweep(sweep_fns.square, configs, store=RunStore(tmp_path / "a.sqlite"), verbose=False)
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])  # workers import sweep_fns too
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        remote = run_sweep(sweep_fns.square, configs + [{"x": 9, "die": True}, {"x": 10, "oom": True}],
                           store=RunStore(tmp_path / "b.sqlite"), executor="ray", verbose=False)
    finally:
        ray.shutdown()
    remote = remote.set_index("x")
    for r in local.itertuples():  # same config, same numbers, whichever executor ran it
        assert (remote.y[r.x], remote.seed_draw[r.x], remote.status[r.x]) == (r.y, r.seed_draw, r.status)
    st = remote.status
    assert st[9] == "environment" and st[10] == "oom"  # a killed worker is the machine's failure
    # Groups travel to Ray workers whole and come back stored per member, as with the local executor.
    groups = [{"x": i, "seed": s} for i in range(3) for s in (0, 1)]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        remote = run_sweep(sweep_fns.square_group, groups, store=RunStore(tmp_path / "c.sqlite"), executor="ray",
                           group_by="seed", verbose=False)
    finally:
        ray.shutdown()
    local = run_sweep(sweep_fns.square_group, groups, store=RunStore(tmp_path / "d.sqlite"), group_by="seed",
                      verbose=False)
    cols = ["x", "seed", "y", "seed_draw", "group_size", "status"]
    assert remote[cols].equals(local[cols]) and (local.group_size == 2).all()


def test_auto_executor_runs_one_core_runs_side_by_side_only_on_the_cpu_profile_of_a_multicore_cpu(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert auto_executor("cpu", one_core_runs=True) == "ray"
    assert auto_executor("cpu") == "local"  # runs that use every core gain nothing from running side by side
    assert auto_executor("smoke", one_core_runs=True) == "local"  # Ray's start-up would dominate the seconds
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert auto_executor("cpu", one_core_runs=True) == "local"


def test_grouped_sweep_runs_each_group_once_and_records_a_failing_group(store):
    configs = [{"x": x, "seed": s} for x in (1, 2) for s in (0, 1, 2)] + [{"x": 3, "seed": 0, "fail_group": True}]
    df = run_sweep(sweep_fns.square_group, configs, store=store, group_by="seed", verbose=False)
    df = df.set_index(["x", "seed"])
    assert df.loc[(1, 2), "y"] == 1 and df.loc[(2, 0), "group_size"] == 3
    assert df.loc[(3, 0), "status"] == "failed" and "bad group" in df.loc[(3, 0), "error"]
    assert len(store) == 7
    short = run_sweep(sweep_fns.square_group, [{"x": 4, "seed": 0, "short": True}, {"x": 4, "seed": 1, "short": True}],
                      store=store, group_by="seed", verbose=False)
    assert (short.status == "failed").all() and short.error.str.contains("one result per config").all()


def test_a_named_grouping_mixes_groups_and_single_runs_in_one_sweep(store):
    """``group_by`` as a function: configs it names alike form one group, None makes a unit of one config."""
    from archlab.sweep import group_name, group_units

    configs = [{"x": x, "seed": s} for x in (1, 2) for s in (0, 1, 2)]
    by = lambda c: group_name(c, "seed") if c["x"] == 1 else None  # noqa: E731
    assert [len(u) for u in group_units(list(enumerate(configs)), by)] == [3, 1, 1, 1]
    df = run_sweep(sweep_fns.square_group, configs, store=store, group_by=by, verbose=False).set_index(["x", "seed"])
    assert df.loc[(1, 0), "group_size"] == 3 and df.loc[(2, 0), "group_size"] == 1 and (df.status == "ok").all()


def test_pending_lists_what_a_sweep_would_compute(store):
    """What a choice made before the sweep (grouping, packing) asks about: unstored runs, and failed ones only when
    they would be retried."""
    from archlab.sweep import pending

    configs = [{"x": 1}, {"x": 2, "fail": True}, {"x": 3}]
    assert pending(sweep_fns.square, configs, store) == configs
    run_sweep(sweep_fns.square, configs[:2], store=store, verbose=False)
    assert pending(sweep_fns.square, configs, store) == configs[2:]
    assert pending(sweep_fns.square, configs, store, retry_failed=True) == configs[1:]


def test_retry_failed_reruns_only_failures(store, tmp_path):
    configs = [{"x": 1, "marker": str(tmp_path)}, {"x": 2, "fail": True, "marker": str(tmp_path)}]
    run_sweep(sweep_fns.square, configs, store=store, verbose=False)
    run_sweep(sweep_fns.square, configs, store=store, verbose=False)
    assert len(list(tmp_path.glob("call-*"))) == 2  # nothing rerun by default
    df = run_sweep(sweep_fns.square, configs, store=store, verbose=False, retry_failed=True)
    assert len(list(tmp_path.glob("call-2-*"))) == 2 and len(list(tmp_path.glob("call-1-*"))) == 1
    assert df.set_index("x").status.to_dict() == {1: "ok", 2: "failed"}


def test_sharded_stores_merge_into_one(tmp_path):
    configs = [{"x": i} for i in range(6)]
    a, b = RunStore(tmp_path / "a.sqlite"), RunStore(tmp_path / "b.sqlite")
    run_sweep(sweep_fns.square, configs, store=a, shard="0/2", verbose=False)
    run_sweep(sweep_fns.square, configs, store=b, shard="1/2", verbose=False)
    from archlab.store import main

    assert main(["merge", str(a.path), str(b.path), "--into", str(tmp_path / "all.sqlite")]) == 0
    merged = RunStore(tmp_path / "all.sqlite")
    assert len(merged) == 6 and merged.merge(a.path) == 0  # merging again adds nothing
    df = run_sweep(sweep_fns.square, configs, store=merged, verbose=False)
    assert sorted(df.y) == [0, 1, 4, 9, 16, 25]


def test_a_store_reads_its_references_beneath_its_own_runs(tmp_path):
    ref = RunStore(tmp_path / "ref.sqlite", references=[])
    ref.put(run_key(sweep_fns.square, {"x": 2}), sweep_fns.square, {"x": 2}, "ok", {"y": 4})
    ref.put(run_key(sweep_fns.square, {"x": 3}), sweep_fns.square, {"x": 3}, "ok", {"y": -1})
    own = RunStore(tmp_path / "own.sqlite", references=[tmp_path / "ref.sqlite"])
    own.put(run_key(sweep_fns.square, {"x": 3}), sweep_fns.square, {"x": 3}, "ok", {"y": 9})  # shadows the reference
    df = run_sweep(sweep_fns.square, [{"x": 2}, {"x": 3}, {"x": 4}], store=own, verbose=False)
    assert list(df.y) == [4, 9, 16]  # x=2 from the reference, x=3 its own, x=4 trained
    assert len(own) == 2 and len(ref) == 2  # what trained went into its own file; the reference untouched
    assert own.get(run_key(sweep_fns.square, {"x": 3}))["result"] == {"y": 9}


def test_no_training_refuses_a_missing_run_before_it_trains(store, tmp_path, monkeypatch):
    from archlab.store import TrainingDisabled

    monkeypatch.setenv("ARCHLAB_NO_TRAINING", "1")
    with pytest.raises(TrainingDisabled, match="square"):
        run_sweep(sweep_fns.square, [{"x": 5, "marker": str(tmp_path)}], store=store, verbose=False)
    assert not list(tmp_path.glob("call-*")) and len(store) == 0


def test_a_notebook_in_jupyterlab_writes_beside_the_committed_results(monkeypatch, tmp_path):
    from archlab import paths

    monkeypatch.delenv("ARCHLAB_RESULTS", raising=False)
    monkeypatch.delenv("ARCHLAB_HEADLESS", raising=False)
    monkeypatch.delenv("ARCHLAB_REFERENCE", raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", sys)  # a kernel, neither papermill's nor nbval's
    assert paths.lab_mode() and paths.results_root() == paths.LAB_RESULTS and paths.reference_profiles() == "all"
    monkeypatch.setenv("ARCHLAB_HEADLESS", "1")
    assert paths.results_root() == paths.COMMITTED and paths.reference_profiles() == ()
    committed, lab = tmp_path / "results", tmp_path / "lab"
    (committed / "01_x").mkdir(parents=True)
    (committed / "01_x" / "claims.csv").write_text("paper,id\n1,C1\n")
    paths.seed_lab_claims(committed, lab)
    assert (lab / "01_x" / "claims.csv").read_text() == "paper,id\n1,C1\n"


def test_a_measurement_that_did_not_finish_raises_with_its_name(store):
    from archlab.store import measured, versioned

    @versioned(1, name="test.probe")
    def probe(c):
        if c["fail"]:
            raise ValueError("no timer")
        return {"ms": 1.5}

    assert measured(probe, {"fail": False}, store=store)["ms"] == 1.5
    with pytest.raises(RuntimeError, match=r"test.probe did not finish \(failed\): ValueError: no timer"):
        measured(probe, {"fail": True}, store=store)
