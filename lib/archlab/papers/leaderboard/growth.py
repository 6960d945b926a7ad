"""SensLI inside the shared recipe: the growing VGG trains with ``archlab.train.fit`` like every other entry, and
after ``insert_at`` epochs a callback runs paper 4's insertion decision and inserts one layer.

The decision is paper 4's own (``meta.USES`` declares the dependency): the squared operator norm ("op22", the
authors' CNN rule) of the mean gradient of every candidate's kernel over one pass of the training data, the
candidates being Dirac-initialised convs (exact identities) at the end of each conv stage; the largest wins. What
differs from paper 4's own loop is only what the leaderboard shares with every entry: the recipe's optimizer and
schedule run on across the insertion (``models.Growable`` holds the candidates' parameters from the start) instead
of a fresh optimizer per phase. The sensitivity pass is counted in the training FLOPs.
"""
from __future__ import annotations

import torch

from ...data import DeviceLoader
from ..layer_insertion.sensitivity import sensitivities
from .budgets import sensitivity_flops, step_flops
from .models import Growable

NORM = "op22"  # paper 4's decision norm for convolutions


class Inserter:
    """``fit`` callback: after epoch ``insert_at``, measure every position's sensitivity on a pass over the
    training set (its own seeded, augmented loader, as paper 4 does) and insert the most sensitive candidate."""

    def __init__(self, model: Growable, train, insert_at: int, batch_size: int, seed: int, pool, shape: tuple):
        self.model, self.train, self.insert_at = model, train, insert_at
        self.batch_size, self.seed, self.pool, self.shape = batch_size, seed, pool, shape
        self.record: dict = {}

    def __call__(self, epoch: int, hist, model) -> bool:
        if epoch != self.insert_at or self.record:
            return False
        net = self.model.net
        device = next(net.parameters()).device
        loader = DeviceLoader(self.train, self.batch_size, train=True, device=device, augment=True,
                              seed=self.seed + 1, dtype=next(net.parameters()).dtype)
        s = sensitivities(net, ((self.pool(x), y) for x, y in loader), norm=NORM)
        position = int(torch.argmax(s))
        images = len(loader) * loader.batch_size
        self.record = dict(insert_epoch=epoch, position=position, sensitivities=s.tolist(), widths_before=net.widths,
                           sensitivity_flops=sensitivity_flops(net, self.shape) * images,
                           step_flops_before=step_flops(net, self.shape))
        self.model.insert(position)
        self.record["widths_after"] = net.widths
        return False
