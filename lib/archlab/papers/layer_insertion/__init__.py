"""Notebook 04, paper 4: sensitivity-based layer insertion (SensLI).

A net grows during training by one identity-initialised layer at the position where the loss is most sensitive
to it; against the small and the large fixed nets and other positions, with exact FLOP accounting.

Modules: ``models`` / ``models_cnn`` (the growing FNN, res2 and VGG), ``sensitivity`` (the candidates'
sensitivities), ``insertion`` (the insertion decision), ``loop`` (training one net with insertions and exact FLOPs),
``batched`` (a spirals arm's seeds in one step), ``grid`` (studies, profiles, config, run configs), ``run`` (the
stored run functions), ``analysis`` / ``analysis_cnn`` (tables), ``claims`` (claims and verdicts), ``plots``
(figures), ``interactive`` (the live widget's run, the batched speed-up), ``jobs`` (benchmark jobs). The paper, its
claims and the rules they are judged by: docs/papers/layer_insertion.md.
"""
STEM = "04_layer_insertion"
PAPER = "4"  # the claims table groups by paper number
TITLE = ("Kreis, Herberg, Köhne, Schiela, Herzog: Sensitivity-Based Layer Insertion for Residual and Feedforward "
         "Neural Networks (arXiv 2311.15995 v1; v2 \"SensLI\", 2025)")

# The modules below read STEM and PAPER from here, so they are imported after them.
from .claims import CLAIMS, verdicts  # noqa: E402
from .grid import PROFILES, Config, make_config  # noqa: E402
from .jobs import datasets, dry_jobs, jobs  # noqa: E402
from .run import run  # noqa: E402
from .sensitivity import sensitivities  # noqa: E402  (public: notebook 05's SensLI entry decides by it)

__all__ = ["STEM", "PAPER", "TITLE", "PROFILES", "Config", "make_config", "run", "CLAIMS", "verdicts", "jobs",
           "dry_jobs", "datasets"]
