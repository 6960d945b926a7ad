"""Shared test set-up: results go to a temp folder, the run store is per test, threads are capped."""
import os
import tempfile

import pytest
import torch

# Never write into the repository's results/ from tests (make test sets this too).
os.environ.setdefault("ARCHLAB_RESULTS", tempfile.mkdtemp(prefix="archlab-test-results-"))
os.environ.setdefault("ARCHLAB_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(min(2, torch.get_num_threads()))

# The toy paper's notebook runs only with ARCHLAB_PAPERS_PATH set (tests/harness/test_adding_a_paper.py does it);
# nbval must not collect it.
collect_ignore_glob = ["harness/toy_papers/*"]


@pytest.fixture
def store(tmp_path):
    from archlab.store import RunStore

    return RunStore(tmp_path / "runs.sqlite")
