"""The benchmark / dry-run jobs: one per run of a profile, the ensemble and SensLI as phases, and every architecture
of the smoke profile builds and steps."""
from archlab.dryrun import dry_run
from archlab.papers.leaderboard import PROFILES, jobs, make_config
from archlab.papers.leaderboard.grid import INSERT_FRACTION


def test_one_job_per_run_with_phases_where_a_run_is_not_one_net():
    cfg = make_config(profile="gpu")
    js = jobs("gpu")
    assert len(js) == len(cfg.configs())
    ens = [j for j in js if j["model"] == "mp_ensemble"]
    assert ens and all(len(j["phases"]) == 2 and j["phases"][0]["model"] == "mp_plain_net" for j in ens)
    grow = [j for j in js if j["model"] == "growing_vgg"]
    e = PROFILES["gpu"]["epochs"]
    assert {j["epochs"] for j in grow} == {e, 2 * e}  # the compared seeds and the longer probe
    assert grow and all([p["epochs"] for p in j["phases"]] == [int(INSERT_FRACTION * j["epochs"]),
                                                                j["epochs"] - int(INSERT_FRACTION * j["epochs"])]
                        for j in grow)
    assert all("phases" not in j for j in js if j["model"] not in ("mp_ensemble", "growing_vgg"))


def test_the_cpu_jobs_name_their_subset_and_resolution():
    js = jobs("cpu")
    assert {j["shape"] for j in js} == {(3, 16, 16)} and {j["n_train"] for j in js} == {PROFILES["cpu"]["train_size"]}


def test_every_smoke_architecture_builds_and_steps():
    table = dry_run(jobs("smoke"))
    assert (table.params > 0).all() and (table.flops > 0).all()
