"""Checks before any kernel starts: is every dataset a run needs on this machine (or downloadable)?

``python -m archlab.run`` (and so ``make reproduce``) calls :func:`check_data` with the datasets of every notebook it
is about to run (each paper's ``datasets``: what its ``jobs`` would name, without their cost matching, which took
most of the 18 s this check once needed). Without it a missing dataset surfaced minutes in, as failed runs and then
a traceback from an empty table; now it stops in seconds with one message naming the dataset, every path searched
and the ways out, before anything is trained or written.

A dataset that is absent but downloadable is downloaded here, in this one process, before any notebook or worker
starts: several Ray workers calling torchvision's ``download=True`` on the same files at once would race.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .data import SPLITS, DataNotFoundError, available, downloadable, load_dataset, missing_message


def datasets_of(jobs: list[dict]) -> dict[str, bool]:
    """``dataset -> optional`` of a job list: optional when every job naming the dataset is marked ``optional`` (its
    notebook skips the parts that need it, with a note, when it is absent). A paper's ``datasets`` agrees with this
    on its ``jobs``."""
    out = {}
    for job in jobs:
        out[job["dataset"]] = out.get(job["dataset"], True) and bool(job.get("optional"))
    return out


def needed(datasets_by_notebook: dict[str, dict[str, bool]]) -> tuple[dict, dict]:
    """``(required, optional)``: dataset -> the notebooks that need it, from each notebook's ``dataset ->
    optional``; a dataset one notebook requires is required."""
    required, optional = {}, {}
    for stem, datasets in datasets_by_notebook.items():
        for d, is_optional in datasets.items():
            (optional if is_optional else required).setdefault(d, []).append(stem)
    return required, optional


def check_data(datasets_by_notebook: dict[str, dict[str, bool]], log=print) -> None:
    """Raise :class:`DataNotFoundError` (one message for all) when a required dataset is neither on this machine
    nor downloadable; note absent optional ones. Host probes run concurrently (2 s timeout each)."""
    required, optional = needed(datasets_by_notebook)
    absent = [d for d in {**required, **optional} if not available(d)]
    with ThreadPoolExecutor(max_workers=max(1, len(absent))) as pool:
        online = dict(zip(absent, pool.map(downloadable, absent)))
    for d in absent:
        if online[d]:
            log(f"dataset {d!r} is not on this machine yet; downloading it now, before any run starts")
            for split in SPLITS:
                load_dataset(d, split)  # downloads once, and leaves the cache every worker then reads
        elif d not in required:
            log(f"dataset {d!r} is not on this machine and cannot be downloaded: "
                f"{', '.join(optional[d])} skip the parts that need it")
    missing = [d for d in absent if d in required and not online[d]]
    if missing:
        raise DataNotFoundError(missing_message(missing, needed_by=required) +
                                "\nNothing was trained and nothing was written.")
