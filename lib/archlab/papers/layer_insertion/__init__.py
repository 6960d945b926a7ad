"""Notebook 04, paper 4: sensitivity-based layer insertion (SensLI).

A net grows during training by one identity-initialised layer at the position where the loss is most sensitive
to it; against the small and the large fixed nets and other positions, with exact FLOP accounting.

Modules: ``meta`` (STEM, PAPER, TITLE), ``models`` / ``models_cnn`` (the growing FNN, res2 and VGG), ``sensitivity``
(the candidates' sensitivities), ``insertion`` (the insertion decision), ``loop`` (training one net with insertions
and exact FLOPs), ``batched`` (a spirals arm's seeds in one step), ``grid`` (studies, profiles, config, run configs),
``run`` (the stored run functions and ``run``), ``analysis`` / ``analysis_cnn`` (tables), ``claims`` (claims and
verdicts), ``plots`` (figures), ``interactive`` (the live widget's run, the batched speed-up), ``jobs`` (benchmark
jobs). The paper, its claims and the rules they are judged by: docs/papers/layer_insertion.md.
"""
from .meta import PAPER, STEM, TITLE
from .claims import CLAIMS, verdicts
from .grid import PROFILES, Config, make_config
from .jobs import datasets, dry_jobs, jobs
from .run import run
from .sensitivity import sensitivities  # public: notebook 05's SensLI entry decides by it

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets", "sensitivities"]
