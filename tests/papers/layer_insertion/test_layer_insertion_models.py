"""Growable networks of paper 4: sizes match the spec, candidates are exact identities, growth is well-formed."""
import pytest
import torch

from archlab import create_model
from archlab.models import model_entry
from archlab.papers.layer_insertion.insertion import insert
from archlab.papers.layer_insertion.loop import FlopMeter
from archlab.papers.layer_insertion.models import GrowingResNet, ResidualBlock
from archlab.train import count_flops


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    "name, widths, expected",
    [  # the spec's parameter table (2-D input, 2 classes)
        ("growing_fnn", (5,), 27),
        ("growing_fnn", (5, 5), 57),
        ("growing_resnet", (3, 3), 38),
        ("growing_resnet", (3, 3, 3), 59),
        ("growing_resnet", (3, 3, 3, 3), 80),
    ],
)
def test_parameter_counts_match_spec(name, widths, expected):
    assert n_params(create_model(name, widths=widths)) == expected


@pytest.mark.parametrize("name", ["growing_fnn", "growing_resnet"])
def test_candidates_leave_function_unchanged(name):
    """Exact in floating point, not only in theory: an identity candidate's output sums one non-zero product (a * 1)
    with exact zeros, so any tolerance above 0 holds on every machine; 1e-12 leaves room for nothing but that."""
    torch.manual_seed(0)
    m = create_model(name, widths=(4, 4, 4)).double()
    x = torch.randn(32, 2, dtype=torch.float64)
    plain = m(x)
    assert torch.allclose(m(x, virtual=m.candidates()), plain, atol=1e-12)
    for p in range(m.num_positions):
        virtual = [torch.nn.Identity()] * m.num_positions
        virtual[p] = m.candidate(p)
        assert torch.allclose(m(x, virtual=virtual), plain, atol=1e-12)


def test_resnet_candidate_init_and_gradient_structure():
    m = create_model("growing_resnet", widths=(3, 3))
    block = m.candidate(1)
    assert isinstance(block, ResidualBlock)
    assert torch.equal(block.inner.weight, 0.8 * torch.eye(3))
    assert not block.outer.weight.any() and not block.inner.bias.any()
    x = torch.randn(16, 2)
    cands = m.candidates()
    loss = torch.nn.functional.cross_entropy(m(x, virtual=cands), torch.randint(2, (16,)))
    g_inner, g_outer = torch.autograd.grad(loss, [cands[1].inner.weight, cands[1].outer.weight])
    assert not g_inner.any(), "at W2 = 0 the inner weight gets no gradient"
    assert g_outer.abs().sum() > 0, "W1 = 0.8 I keeps the outer weight's gradient non-zero"


def test_grow_inserts_identity_layer_after_position():
    m = create_model("growing_fnn", widths=(3, 7))
    m.grow(1)
    assert m.widths == [3, 7, 7] and m.num_positions == 3
    assert torch.equal(m.hidden[2].linear.weight, torch.eye(7))
    assert n_params(m) == n_params(create_model("growing_fnn", widths=(3, 7, 7)))


@pytest.mark.parametrize("bad", [-1, 2, 5])
def test_nonexistent_position_is_refused(bad):
    m = create_model("growing_resnet", widths=(3, 3))
    with pytest.raises(ValueError, match=r"0\.\.1"):
        m.grow(bad)


def test_resnet_requires_equal_widths():
    with pytest.raises(ValueError, match="equal"):
        GrowingResNet(2, (3, 4), 2)


@pytest.mark.parametrize("name", ["growing_fnn_mnist", "growing_resnet_cifar"])
def test_image_variants_flatten_their_input(name):
    entry = model_entry(name)
    m = create_model(name, input_shape=entry.input_shape, **entry.test_kwargs)
    assert m(torch.randn(2, *entry.input_shape)).shape == (2, 10)


# ----------------------------------------------------------------------------- the v2 VGG (spec "CNN variant", E5b)


def test_vgg_dirac_candidates_preserve_the_loss_at_every_position():
    """float64, so the check is about the construction, not about conv algorithms' rounding."""
    torch.manual_seed(0)
    m = create_model("growing_vgg", widths=(8, 16, 16), input_shape=(3, 16, 16)).double()
    x, y = torch.randn(16, 3, 16, 16, dtype=torch.float64), torch.randint(10, (16,))
    loss = torch.nn.functional.cross_entropy(m(x), y)
    cands = m.candidates()
    assert all(torch.equal(c.conv.weight, torch.nn.init.dirac_(torch.empty_like(c.conv.weight))) for c in cands)
    assert abs(torch.nn.functional.cross_entropy(m(x, virtual=cands), y) - loss) < 1e-6
    for p in range(3):
        grown = insert(m, p)
        assert len(grown.hidden[p]) == 2 and grown.widths[p + 1] == grown.widths[p]
        assert abs(torch.nn.functional.cross_entropy(grown(x), y) - loss) < 1e-6


def test_vgg_big_net_is_the_small_net_grown_at_position_0_with_random_init():
    small, big = create_model("growing_vgg"), create_model("growing_vgg", depths=(2, 1, 1))
    assert big.widths == [64, 64, 128, 256] == insert(small, 0).widths
    assert n_params(big) == n_params(insert(small, 0))
    assert not torch.equal(big.hidden[0][1].conv.weight, small.candidate(0).conv.weight)
    with pytest.raises(ValueError, match="conv stage"):
        small.grow(3)
    with pytest.raises(ValueError, match="divisible"):
        create_model("growing_vgg", input_shape=(3, 20, 20))


def test_vgg_flops_match_the_spec():
    """docs/papers/layer_insertion.md: each candidate ~75.5 MFLOP per image forward, the whole baseline ~83 MFLOP (m = [64, 128,
    256], 32 x 32). A training step (FlopMeter) is forward + weight grads + input grads of all but the first conv."""
    with torch.device("meta"):
        small = create_model("growing_vgg")
        grown = [insert(small, p) for p in range(3)]
        x, y = torch.zeros(1, 3, 32, 32), torch.zeros(1, dtype=torch.long)
    base = count_flops(small, (3, 32, 32), device="meta")
    assert abs(base / 83e6 - 1) < 0.01
    for g in grown:
        assert count_flops(g, (3, 32, 32), device="meta") - base == 2 * 64 * 64 * 9 * 32 * 32 == 75_497_472
    meter = FlopMeter()
    with meter.count():
        torch.nn.functional.cross_entropy(small(x), y).backward()
    assert meter.total == 3 * base - 2 * 3 * 64 * 9 * 32 * 32
