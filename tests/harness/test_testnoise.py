"""Per-example correctness and the split of a paired difference's spread into test-set and seed parts."""
import numpy as np
import pytest
import torch

from archlab import testnoise
from archlab.data import load_splits
from archlab.models import create_model
from archlab.train import evaluate, seed_everything


def test_bits_round_trip_and_match_evaluate():
    _, te = load_splits("digits", train_size=100, test_size=203)  # 203: not a multiple of 8
    seed_everything(0)
    model = create_model("small_cnn", input_shape=(1, 8, 8), width=4)
    bits = testnoise.correct_bits(model, te)
    v = testnoise.unpack(bits, len(te))
    assert v.shape == (203,) and v.dtype == bool
    assert testnoise.accuracy(bits, len(te)) == pytest.approx(evaluate(model, te)[1])
    with pytest.raises(ValueError, match="n=300"):
        testnoise.unpack(bits, 300)


def _simulated(seeds, n, sd_seed, rng):
    """Arms whose per-seed accuracies differ by a seed effect of spread sd_seed, each image drawn independently."""
    a, b = [], []
    for _ in range(seeds):
        shift = rng.normal(0, sd_seed)
        a.append(rng.random(n) < 0.7 + shift / 2)
        b.append(rng.random(n) < 0.6 - shift / 2)
    return a, b


def test_split_recovers_the_seed_and_test_parts():
    rng = np.random.default_rng(0)
    n = 2000
    a, b = _simulated(400, n, 0.03, rng)
    row = testnoise.split(a, b, n=n)
    # independent images at p = 0.7 / 0.6: test variance of the difference (0.21 + 0.24) / n
    assert row["sd_test"] == pytest.approx(np.sqrt(0.45 / n), rel=0.05)
    assert row["sd_seed"] == pytest.approx(0.03, rel=0.15)
    assert row["effect"] == pytest.approx(0.1, abs=0.005)
    # no seed effect: almost all of the spread is test sampling
    a0, b0 = _simulated(400, n, 0.0, rng)
    assert testnoise.split(a0, b0, n=n)["test_share"] > 0.85
    # ten times the test images: the test part shrinks by sqrt(10), the seed part stays
    far = testnoise.projected_sd(row, 10 * n)
    assert row["sd_seed"] <= far < row["sd_total"]


def test_split_needs_pairs():
    rng = np.random.default_rng(1)
    a, b = _simulated(3, 50, 0.0, rng)
    with pytest.raises(ValueError, match="3 and 2"):
        testnoise.split(a, b[:2], n=50)
    single = testnoise.split(a, n=50)
    assert single["seeds"] == 3 and 0.55 < single["effect"] < 0.85


def test_table_reports_points_and_projection():
    rng = np.random.default_rng(2)
    a, b = _simulated(5, 500, 0.02, rng)
    t = testnoise.table({"C1": testnoise.split(a, b, n=500)}, full_test=5000)
    assert list(t["claim"]) == ["C1"] and t.loc[0, "n_test"] == 500
    assert t.loc[0, "sd_at_5000"] <= t.loc[0, "sd_total"] + 1e-9 or t.loc[0, "sd_seed"] == 0
    assert 5 < t.loc[0, "effect"] < 15  # points, not fractions


def _bits(v):
    import base64

    return base64.b64encode(np.packbits(v).tobytes()).decode("ascii")


def test_paired_split_pairs_by_seed_and_needs_two_seeds_of_one_test_set():
    import pandas as pd

    from archlab.testnoise import bits_by_seed, paired_split, split

    rng = np.random.default_rng(0)
    bits = {s: _bits(rng.random(64) < 0.7) for s in range(4)}
    other = {s: _bits(rng.random(64) < 0.5) for s in range(4)}
    runs = pd.DataFrame({"seed": [0, 1, 2, 3], "result": [{"test_bits": bits[s], "n_test": 64} for s in range(3)]
                         + [{"error": "no bits"}]})
    a = bits_by_seed(runs)
    assert sorted(a) == [0, 1, 2]
    own = runs.assign(result=[{"test_correct": r.get("test_bits")} for r in runs.result])  # a paper's own key
    assert bits_by_seed(own, bits="test_correct", n_test=64) == a and bits_by_seed(runs.drop(columns="result")) == {}
    b = {s: (other[s], 64) for s in (1, 2, 3)}
    assert paired_split(a, b) == split([bits[1], bits[2]], [other[1], other[2]], n=64)
    assert paired_split(a, {1: (other[1], 64)}) is None  # one common seed
    assert paired_split(a, {1: (other[1], 64), 2: (other[2], 56)}) is None  # two test set sizes
