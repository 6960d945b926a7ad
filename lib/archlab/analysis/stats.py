"""Moved to :mod:`archlab.stats`; re-exported here so existing ``archlab.analysis.stats`` imports keep working."""
from ..stats import *  # noqa: F401,F403
from ..stats import bootstrap_ci, fmt_mean_std, mean_std, welch  # noqa: F401
