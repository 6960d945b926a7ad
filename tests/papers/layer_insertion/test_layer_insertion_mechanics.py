"""SensLI mechanics: function preservation, sensitivities vs finite differences, exact FLOPs, schedules."""
import math

import pytest
import torch
import torch.nn.functional as F

from archlab import create_model
from archlab.papers.layer_insertion.insertion import check_schedule, choose_position, first_step_decrease, insert
from archlab.papers.layer_insertion.loop import FlopMeter, train_growing
from archlab.papers.layer_insertion.sensitivity import sensitivities

FAMILIES = ["growing_fnn", "growing_resnet"]


def two_spirals(n=60, dtype=torch.float32):
    """The authors' spirals (r0 = 0.5, one turn), tiny: enough to train on in milliseconds."""
    i = torch.arange(n, dtype=dtype)
    phi, r = 2 * math.pi * i / n, 0.5 + i / n
    p = torch.stack([r * torch.cos(phi), r * torch.sin(phi)], 1)
    return torch.cat([-p, p]), torch.cat([torch.zeros(n), torch.ones(n)]).long()


@pytest.mark.parametrize("name", FAMILIES)
def test_insertion_at_every_position_preserves_outputs(name):
    torch.manual_seed(0)
    x, y = two_spirals()
    m, _ = train_growing(create_model(name, widths=(4, 4, 4)), [(x, y)], epochs=30, lr=0.1)
    before = m(x)
    for p in range(m.num_positions):
        grown = insert(m, p)
        assert grown.num_positions == m.num_positions + 1
        assert sum(q.numel() for q in grown.parameters()) > sum(q.numel() for q in m.parameters())
        assert torch.allclose(grown(x), before, atol=1e-6)
    assert m.num_positions == 3, "insert must return a copy, not grow the original"


@pytest.mark.parametrize("name", FAMILIES)
def test_sensitivity_equals_finite_difference(name):
    """Central differences on the inserted layer's weight. For the FNN the hidden biases are shifted so every
    unit is active: at a unit that is exactly 0 the identity candidate sits on ReLU's kink, where autograd's
    convention ReLU'(0) = 0 gives a one-sided derivative that a central difference cannot match."""
    torch.manual_seed(1)
    x, y = two_spirals(20, torch.float64)
    m = create_model(name, widths=(3, 3)).double()
    if name == "growing_fnn":
        with torch.no_grad():
            for layer in m.hidden:
                layer.linear.bias += 5.0
    s = sensitivities(m, (x, y))
    for p in range(m.num_positions):
        grown = insert(m, p)
        w = grown.hidden[p + 1].sensitive_weight
        grad = torch.zeros_like(w)
        eps = 1e-6
        with torch.no_grad():
            for idx in torch.cartesian_prod(*(torch.arange(d) for d in w.shape)).tolist():
                w[tuple(idx)] += eps
                up = F.cross_entropy(grown(x), y)
                w[tuple(idx)] -= 2 * eps
                down = F.cross_entropy(grown(x), y)
                w[tuple(idx)] += eps
                grad[tuple(idx)] = (up - down) / (2 * eps)
        # The bound: in float64 a central difference with eps = 1e-6 is off by eps^2 |f'''| / 6 ~ 1e-12 plus
        # rounding ~ 1e-16 |L| / eps ~ 1e-10 per component (measured: <= 3e-10), i.e. ~1e-8 relative on s here.
        # rtol 1e-5 is 1000x that on any IEEE float64 machine, and far below what a wrong candidate would give.
        assert s[p] > 0
        assert torch.isclose(s[p], grad.pow(2).sum(), rtol=1e-5), (p, s[p], grad.pow(2).sum())


def test_sensitivity_uses_the_norm_of_the_mean_gradient_over_batches():
    torch.manual_seed(2)
    x, y = two_spirals(40, torch.float64)
    m = create_model("growing_fnn", widths=(4, 4)).double()
    halves = [(x[::2], y[::2]), (x[1::2], y[1::2])]  # equal sizes: mean of batch gradients = full gradient
    assert torch.allclose(sensitivities(m, halves), sensitivities(m, (x, y)), rtol=1e-10)
    per_batch_mean_of_norms = (sensitivities(m, halves[0]) + sensitivities(m, halves[1])) / 2
    assert not torch.allclose(sensitivities(m, halves), per_batch_mean_of_norms)


def test_sensitivity_pass_leaves_the_model_untouched():
    x, y = two_spirals()
    m = create_model("growing_resnet", widths=(3, 3, 3))
    state = {k: v.clone() for k, v in m.state_dict().items()}
    s = sensitivities(m, (x, y))
    assert s.shape == (3,)
    assert all(p.grad is None for p in m.parameters())
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in state.items())


def test_choose_position():
    s = torch.tensor([0.2, 0.9, 0.1])
    assert choose_position(s, "max") == 1 and choose_position(s, "min") == 2 and choose_position(s, 0) == 0
    picks = {choose_position(s, "random", torch.Generator().manual_seed(k)) for k in range(30)}
    assert picks == {0, 1, 2}
    with pytest.raises(ValueError, match="max"):
        choose_position(s, "biggest")


@pytest.mark.parametrize(
    "insert_at, select, match",
    [((20,), "max", r"1\.\.19"), ((0,), "max", "outside"), ((25,), "max", "outside"), ((8, 5), "max", "increasing"),
     ((5,), 3, r"position 3 does not exist; valid positions are 0\.\.1"), ((5,), "best", "not valid")],
)
def test_bad_schedule_is_refused_before_training(insert_at, select, match):
    x, y = two_spirals()
    m = create_model("growing_fnn", widths=(4, 4))
    state = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        train_growing(m, [(x, y)], epochs=20, lr=0.1, insert_at=insert_at, select=select)
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in state.items()), "nothing may train before the refusal"
    with pytest.raises(ValueError):
        check_schedule(insert_at, 20, select, 2)


def test_gd_with_insertion_is_continuous_and_resets_the_optimizer():
    torch.manual_seed(0)
    x, y = two_spirals()
    m, log = train_growing(create_model("growing_fnn", widths=(5,)), [(x, y)], epochs=60, lr=0.2, insert_at=(20, 40),
                           factor=0.5, sens_every=10, probe_lr=0.01)
    assert m.widths == [5, 5, 5] and len(log["step"]) == 60 and log["status"] == "ok"
    first, second = log["insertions"]
    assert first["widths_before"] == [5] and first["widths_after"] == [5, 5] and len(second["sensitivities"]) == 2
    assert abs(first["loss_jump"]) < 1e-6 and abs(second["loss_jump"]) < 1e-6
    assert log["lr_final"] == pytest.approx(0.2 * 0.5 * 0.5)
    assert [r["step"] for r in log["sens"]] == list(range(0, 60, 10))
    assert first["first_step_decrease"][0] > 0


def test_flops_are_exact_matmul_counts():
    """FNN [5], 2 -> 5 -> 2, batch N: forward 2N(10 + 10); backward: weight grads 2N(10 + 10) plus the
    input grad of the second layer 2N*10 (the first layer's input needs none) = 100 N per step."""
    x, y = two_spirals(30)
    n = len(y)
    m, log = train_growing(create_model("growing_fnn", widths=(5,)), [(x, y)], epochs=7, lr=0.1, insert_at=(3,))
    assert log["flops"][:3] == [100 * n, 200 * n, 300 * n]
    # sensitivity pass on the extended net 2 -> 5 -> [5] -> 2: forward 2N*45; backward only what the virtual
    # weight needs: the head's input grad 2N*10 and the virtual weight grad 2N*25
    sens = 2 * n * (45 + 10 + 25)
    assert log["insertions"][0]["flops"] == 300 * n + sens
    # grown 2 -> 5 -> 5 -> 2: forward 2N*45, backward weight grads 2N*45 + input grads 2N*35
    assert log["flops"][3] == 300 * n + sens + 2 * n * 125
    meter = FlopMeter()
    with meter.count():
        torch.ones(4, 3) @ torch.ones(3, 2)
    assert meter.total == 2 * 4 * 3 * 2


def test_minibatch_sgd_and_backtracking():
    torch.manual_seed(0)
    x, y = two_spirals()
    batches = [(x[:80], y[:80]), (x[80:], y[80:])]
    _, log = train_growing(create_model("growing_fnn", widths=(5,)), batches, epochs=5, lr=0.01, log_every=2)
    assert len(log["step"]) == 5 and log["step"][-1] == 9  # two steps per epoch, logged as their mean
    assert log["flops"][0] == 100 * 80 + 100 * 40
    # backtracking on a single full-batch step: lr becomes the first 0.9^k with a strict decrease
    torch.manual_seed(0)
    m = create_model("growing_fnn", widths=(5,))
    before = F.cross_entropy(m(x), y).item()
    m, log = train_growing(m, [(x, y)], epochs=1, lr=123.0, backtrack_epochs=1)
    k = math.log(log["lr_final"]) / math.log(0.9)
    assert abs(k - round(k)) < 1e-6 and round(k) < 10
    assert F.cross_entropy(m(x), y).item() < before


def test_divergence_is_recorded():
    x, y = two_spirals()
    _, log = train_growing(create_model("growing_fnn", widths=(5,)), [(x * 1e20, y)], epochs=50, lr=1e20)
    assert log["status"] == "diverged" and log["diverged_step"] is not None


def test_first_step_decrease_tracks_lr_times_sensitivity_for_resnet():
    """For res2 candidates only W2 has a gradient, so the first-order gain is exactly lr * s.

    The tolerance bounds the second-order term (a property of this seeded net, not of rounding: measured 7e-4
    relative, and computed in float64, where rounding moves it by ~1e-6), 70x below rtol = 0.05."""
    torch.manual_seed(3)
    x, y = two_spirals()
    m = create_model("growing_resnet", widths=(3, 3, 3))
    gain = torch.tensor(first_step_decrease(m, x, y, lr=1e-3), dtype=torch.float64)
    s = sensitivities(m.double(), (x.double(), y)).to(torch.float64)
    assert torch.allclose(gain, 1e-3 * s, rtol=0.05)
