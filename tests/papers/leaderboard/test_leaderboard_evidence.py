"""The fit against the longer probe and the test-noise split on run tables with known per-example correctness:
a gap made only of test-set sampling shows a test share near 1, a gap made of seed-to-seed shifts a small one."""
import numpy as np
import pandas as pd
import pytest

from archlab.papers.leaderboard.analysis import COLUMNS
from archlab.papers.leaderboard.evidence import FIT_RATIO, fit_table, fitted_value, noise_table


def _bits(v: np.ndarray) -> str:
    import base64

    return base64.b64encode(np.packbits(v).tobytes()).decode("ascii")


def _table(seed_shift: float, n=4000, seeds=8, rng=0) -> pd.DataFrame:
    """ResNet and ELAN, each seed's correctness drawn independently per image (test-set noise), ELAN's accuracy
    shifted per seed by ``seed_shift`` x N(0, 1) (seed noise); one probe each."""
    g = np.random.default_rng(rng)
    rows = []
    for s in range(seeds):
        shift = seed_shift * g.normal()
        for name, p in (("resnet", 0.6), ("elan", 0.6 + shift)):
            hits = g.random(n) < p
            rows.append(dict(entry=name, label=name, paper="1", budget=50_000, role="seed", seed=s, epochs=20,
                             status="ok", test_acc=hits.mean(), train_acc=0.7, n_test=n, test_bits=_bits(hits)))
    for name, acc in (("resnet", 0.71), ("elan", 0.80)):
        rows.append(dict(entry=name, label=name, paper="1", budget=50_000, role="probe", seed=0, epochs=40,
                         status="ok", train_acc=acc, n_test=n))
    return pd.DataFrame(rows, columns=COLUMNS)


def test_the_split_finds_where_the_spread_comes_from():
    test_only = noise_table(_table(0.0), {"C1": "elan"}).iloc[0]
    seeded = noise_table(_table(0.03), {"C1": "elan"}).iloc[0]
    assert test_only.claim == "C1 (50k)" and test_only.seeds == 8 and test_only.n_test == 4000
    assert test_only.test_share > 0.5 > seeded.test_share
    assert seeded.sd_at_10000 < seeded.sd_total  # more test images shrink only the test part
    assert noise_table(_table(0.0, seeds=1), {"C1": "elan"}).empty


def test_the_fit_is_judged_against_each_entrys_probe():
    fits = fit_table(_table(0.0)).set_index("entry")
    assert fits.ratio["resnet"] == pytest.approx(0.7 / 0.71) and bool(fits.fitted["resnet"])
    assert fits.ratio["elan"] == pytest.approx(0.7 / 0.80) and not fits.fitted["elan"]
    assert fits.level["elan"] == pytest.approx(FIT_RATIO * 0.80) and fits.runs["elan"] == 8
    assert fitted_value(_table(0.0), ("elan", "resnet"), 50_000) == pytest.approx(0.7 / 0.80)
