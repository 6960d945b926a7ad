"""Seeds trained in one batched step (``batched.train_seeds``) against one at a time (``loop.train_growing``).

Both run in float64, so the only difference is the order of floating-point sums (the batched step multiplies
stacked matrices and averages an unshuffled full batch). Each bound below is derived from that: float64 rounding
(u = 1.1e-16) of O(1) quantities, amplified over the run by at most exp(lr * L * steps) for a gradient Lipschitz
constant L of order 10 on these nets. At lr 0.01 and 60 steps that is e^6 ~ 400, so differences stay below
~1e-13; 1e-9 leaves four orders of magnitude, while a real error in the batched code (a wrong gradient, a
missed insertion, a shuffled seed) moves the losses by O(1e-3) or more. Discrete records (positions, FLOPs, the
steps logged) must match exactly.
"""
import pytest
import torch

from archlab import create_model
from archlab.data import DeviceLoader, load_dataset
from archlab.papers.layer_insertion.batched import stacked_logits, train_seeds
from archlab.papers.layer_insertion.loop import train_growing

BOUND = 1e-9


def nets(name, widths, seeds):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(create_model(name, widths=widths).double())
    return out


def loaders(seeds, batch):
    train = load_dataset("spirals", "train")
    return [DeviceLoader(train, batch, seed=s, dtype=torch.float64) for s in seeds]


def evaluate_on(test):
    def ev(m):
        with torch.no_grad():
            return {"test_loss": float(torch.nn.functional.cross_entropy(m(test.x.double()), test.y))}
    return ev


@pytest.mark.parametrize("name, widths", [("growing_fnn", (5,)), ("growing_resnet", (3, 3))])
def test_stacked_forward_is_the_modules_forward(name, widths):
    from torch.func import stack_module_state

    models = nets(name, widths, range(3))
    params, _ = stack_module_state(models)
    x = torch.randn(3, 17, 2, dtype=torch.float64)
    out = stacked_logits(models[0], params, x)
    ref = torch.stack([m(x[k]) for k, m in enumerate(models)])
    assert torch.allclose(out, ref, rtol=BOUND, atol=BOUND)
    shared = stacked_logits(models[0], params, x[0])  # one batch for all seeds (full-batch GD)
    assert torch.allclose(shared, torch.stack([m(x[0]) for m in models]), rtol=BOUND, atol=BOUND)


@pytest.mark.parametrize("name, widths, select, batch", [
    ("growing_fnn", (4, 4), "max", 0), ("growing_resnet", (3, 3, 3), "min", 0),
    ("growing_fnn", (3, 5), "random", 0),  # random positions give two shapes: [3, 3, 5] and [3, 5, 5]
    ("growing_fnn", (5,), "max", 90)])  # minibatch SGD: every seed draws its own batches
def test_batched_seeds_match_one_at_a_time(name, widths, select, batch):
    seeds = [0, 1, 2, 3]
    n = len(load_dataset("spirals", "train"))
    steps_per_epoch = 1 if batch == 0 else n // batch
    epochs = 60 // steps_per_epoch
    kw = dict(epochs=epochs, lr=0.01, insert_at=(epochs // 2,), select=select, factor=0.7, sens_every=10,
              eval_every=15, probe_lr=0.01, evaluate=evaluate_on(load_dataset("spirals", "test")))
    batched = train_seeds(nets(name, widths, seeds), loaders(seeds, batch or n), seeds, **kw)
    shapes = set()
    for s, model, (bm, blog) in zip(seeds, nets(name, widths, seeds), batched):
        m, log = train_growing(model, loaders([s], batch or n)[0], seed=s, **kw)
        assert bm.widths == m.widths and blog["status"] == log["status"] == "ok"
        assert blog["step"] == log["step"] and blog["flops"] == log["flops"]
        assert blog["loss"] == pytest.approx(log["loss"], rel=BOUND, abs=BOUND)
        assert [e["step"] for e in blog["evals"]] == [e["step"] for e in log["evals"]]
        assert [e["flops"] for e in blog["evals"]] == [e["flops"] for e in log["evals"]]
        assert [e["test_loss"] for e in blog["evals"]] == pytest.approx([e["test_loss"] for e in log["evals"]],
                                                                        rel=BOUND, abs=BOUND)
        assert [e["step"] for e in blog["sens"]] == [e["step"] for e in log["sens"]]
        (bi,), (li,) = blog["insertions"], log["insertions"]
        assert bi["position"] == li["position"] and bi["flops"] == li["flops"]
        assert bi["sensitivities"] == pytest.approx(li["sensitivities"], rel=1e-6, abs=BOUND)
        assert blog["lr_final"] == pytest.approx(log["lr_final"])
        shapes.add(tuple(bm.widths))
    if select == "random":
        assert len(shapes) == 2, "the seeds should have grown into two shapes (trained in two stacks)"


def test_a_diverging_seed_stops_where_one_at_a_time_stops():
    seeds = [0, 1]
    models = nets("growing_fnn", (5,), seeds)
    with torch.no_grad():
        for p in models[1].parameters():
            p.mul_(1e300)  # seed 1's first loss is NaN (its logits overflow); seed 0 trains normally
    kw = dict(epochs=40, lr=0.5, insert_at=(20,))
    (m0, log0), (m1, log1) = train_seeds(models, loaders(seeds, 450), seeds, **kw)
    ref = nets("growing_fnn", (5,), [1])[0]
    with torch.no_grad():
        for p in ref.parameters():
            p.mul_(1e300)
    _, log_ref = train_growing(ref, loaders([1], 450)[0], seed=1, **kw)
    assert log0["status"] == "ok" and len(log0["insertions"]) == 1 and m0.widths == [5, 5]
    assert log1["status"] == log_ref["status"] == "diverged"
    assert log1["diverged_step"] == log_ref["diverged_step"] and log1["step"] == log_ref["step"]
    assert not log1["insertions"] and m1.widths == [5]


def test_bad_batches_are_refused_before_training():
    seeds = [0, 1]
    with pytest.raises(ValueError, match="one architecture"):
        train_seeds(nets("growing_fnn", (5,), [0]) + nets("growing_fnn", (4,), [1]), loaders(seeds, 450), seeds,
                    epochs=4, lr=0.1)
    with pytest.raises(ValueError, match="log_every=4 must divide"):
        train_seeds(nets("growing_fnn", (5,), seeds), loaders(seeds, 450), seeds, epochs=10, lr=0.1,
                    insert_at=(3,), log_every=4)
    with pytest.raises(ValueError, match="one loader and seed per model"):
        train_seeds(nets("growing_fnn", (5,), seeds), loaders(seeds, 450), [0], epochs=4, lr=0.1)
