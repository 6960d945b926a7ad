"""Datasets: embedded sets, torchvision's MNIST files, image-folder trees, caching, the device loader."""
import socket

import numpy as np
import pytest
import torch

from archlab import data
from archlab.data import ArrayDataset, DataNotFoundError, DeviceLoader, load_dataset, load_splits


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLAB_DATA", str(tmp_path))
    data._load_files.cache_clear()
    yield tmp_path
    data._load_files.cache_clear()


def _write_idx(path, array: np.ndarray):
    """MNIST's raw idx format: magic (0, 0, dtype 0x08, ndim), big-endian dims, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_embedded_sets_shapes_and_types():
    tr, te = load_splits("digits")
    assert tr.x.dtype == torch.uint8 and tr.sample_shape == (1, 8, 8) and len(tr) + len(te) == 1797
    assert set(tr.y.tolist()) == set(range(10))
    sp_tr, sp_te = load_splits("spirals")
    assert sp_tr.x.dtype == torch.float32 and sp_tr.sample_shape == (2,) and (len(sp_tr), len(sp_te)) == (450, 150)
    syn, _ = load_splits("synthetic")
    assert syn.sample_shape == (3, 32, 32) and syn.num_classes == 10


def test_spirals_follow_the_papers_formula():
    tr, te = load_splits("spirals", n_per_class=300)
    x = torch.cat([tr.x, te.x])
    r = x.norm(dim=1)
    assert r.min() == pytest.approx(0.5, abs=1e-6) and r.max() < 1.5  # r = r0 + c*i/N, r0 = 0.5, one turn
    # the two classes are point reflections of each other
    a, b = (torch.cat([tr.x[tr.y == c], te.x[te.y == c]]) for c in (0, 1))
    assert torch.allclose(torch.sort(a.norm(dim=1)).values, torch.sort(b.norm(dim=1)).values)


def test_subset_is_stratified_and_deterministic():
    tr, _ = load_splits("digits")
    s1, s2 = tr.subset(200, seed=3), tr.subset(200, seed=3)
    assert torch.equal(s1.x, s2.x) and len(s1) == 200
    counts = torch.bincount(s1.y, minlength=10)
    assert counts.max() - counts.min() <= 1


def test_unknown_dataset_lists_choices():
    with pytest.raises(ValueError, match="cifar10"):
        load_dataset("imagenet")


def test_mnist_through_torchvision_raw_files_and_cache(data_dir):
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("t10k", 10)):
        _write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    tr = load_dataset("mnist", "train", download=False)
    assert tr.x.shape == (20, 1, 28, 28) and tr.x.dtype == torch.uint8 and tr.y.tolist() == list(np.arange(20) % 10)
    assert (data_dir / ".archlab-cache" / "mnist-train.pt").exists()
    for f in raw.iterdir():  # the decoded cache alone must now serve the split
        f.unlink()
    data._load_files.cache_clear()
    again = load_dataset("mnist", "train", download=False)
    assert torch.equal(again.x, tr.x)


def test_image_folder_tree(data_dir):
    from torchvision.io import write_png

    for split in ("train", "test"):
        for c, name in enumerate(["cat", "dog"]):
            d = data_dir / "cifar10" / split / name
            d.mkdir(parents=True)
            for i in range(3):
                write_png(torch.full((3, 32, 32), 40 * c + i, dtype=torch.uint8), str(d / f"{i}.png"))
    tr = load_dataset("cifar10", "train")
    assert tr.x.shape == (6, 3, 32, 32) and tr.classes == ("cat", "dog") and tr.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert tr.x[3, 0, 0, 0] == 40


def test_missing_data_offline_fails_fast_with_paths(data_dir, monkeypatch):
    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    with pytest.raises(DataNotFoundError) as e:
        load_dataset("cifar10", "train")
    msg = str(e.value)
    assert "cifar10" in msg and str(data_dir) in msg and "ARCHLAB_DATA" in msg


def test_device_loader_is_deterministic_and_reshuffles():
    tr, _ = load_splits("synthetic")
    a = DeviceLoader(tr, 64, seed=1, augment=True)
    b = DeviceLoader(tr, 64, seed=1, augment=True)
    e1 = [y for _, y in a]
    assert all(torch.equal(y1, y2) for y1, (_, y2) in zip(e1, b))
    e2 = [y for _, y in a]
    assert not all(torch.equal(y1, y2) for y1, y2 in zip(e1, e2)), "epochs must reshuffle"
    assert len(a) == len(tr) // 64


def test_device_loader_normalises_and_keeps_eval_order():
    tr, _ = load_splits("synthetic")
    loader = DeviceLoader(tr, 100, train=False)
    xs, ys = zip(*loader)
    assert len(loader) == 6 and torch.equal(torch.cat(ys), tr.y)  # ragged last batch kept, order kept
    x = torch.cat(xs)
    expected = (tr.x.float() / 255 - 0.5) / 0.25
    assert torch.allclose(x, expected, atol=1e-5)


def test_random_crop_flip_moves_pixels_within_pad():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    outs = [data.random_crop_flip(x, pad=2, generator=g) for _ in range(20)]
    assert all(o.shape == x.shape for o in outs)
    assert any(not torch.equal(o, x) for o in outs)
    # every non-padding value comes from the same image
    for o in outs:
        for i in range(2):
            vals = o[i][o[i] != 0]
            assert ((vals >= x[i].min()) & (vals <= x[i].max())).all()


def test_array_dataset_checks_lengths():
    with pytest.raises(ValueError):
        ArrayDataset(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long), 2, (0,), (1,), "bad")


def test_class_names_without_the_files_match_the_loaded_ones():
    from archlab.data import class_names

    assert class_names("mnist")[0] == "0 - zero" and class_names("cifar10")[-1] == "truck"
    assert class_names("digits") == list(data.load_dataset("digits", "test").classes)
