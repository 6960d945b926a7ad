"""Every training run of each notebook's ``paper`` profile as a job for ``bench.project.project``.

A job is dict(model, kwargs, shape, dataset, batch_size, epochs) (a registered model and its forward input), with
optional overrides where a run is not "epochs x full passes of a standard data set" (see ``project.phases``).
Each paper package builds its own list from its own grid (``archlab.papers.<paper>.jobs``), so the projection
follows the notebook when a grid changes, and a new paper needs no change here.
"""
from __future__ import annotations

from archlab.papers import PAPERS

NOTEBOOKS = {p.STEM: p.jobs for p in PAPERS.values()}
