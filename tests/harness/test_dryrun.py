"""The dry run of the big profiles: every architecture of every notebook's gpu and paper runs builds and steps on
the CPU (no GPU has run these profiles; this is where a shape bug or a bad grid level shows first)."""
import subprocess
import sys

import pytest

from archlab.dryrun import architectures, dry_run
from archlab.papers import PAPERS
from archlab.paths import REPO_ROOT


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["gpu", "paper"])
@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_every_architecture_of_the_big_profiles_builds_and_steps(paper, profile):
    jobs = PAPERS[paper].jobs(profile)
    table = dry_run(jobs)
    assert len(jobs) > 0 and len(table) == len(architectures(jobs))
    assert table.runs.sum() >= len(jobs)  # every run (or phase of a growing run) belongs to an architecture
    assert (table.params > 0).all() and (table.flops > 0).all() and (table.est_memory_mb > 0).all()


def test_dry_run_refuses_a_model_that_cannot_step():
    bad = [dict(model="small_cnn", kwargs={"width": 8, "in_chans": 3}, shape=(1, 8, 8), dataset="digits",
                batch_size=4, epochs=1)]  # three input channels declared, one given
    with pytest.raises(RuntimeError, match="small_cnn"):
        dry_run(bad)


def test_cli_dry_run_prints_the_table_and_trains_nothing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "archlab.run", str(REPO_ROOT / "notebooks" / "00_overview.ipynb"),
                        "--dry-run", "-p", "profile", "gpu"], capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "ARCHLAB_RESULTS": str(tmp_path / "results")})
    assert r.returncode == 0, r.stderr
    assert "architectures" in r.stdout and "small_cnn" in r.stdout and "est_memory_mb" in r.stdout
    assert not (tmp_path / "results").exists()
