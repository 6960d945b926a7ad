"""Paper 2 models: parameter parity, the fused parallel layer, and refusal of impossible shapes.

Equivalences of two computations (fused against separate convolutions) run in float64, where rounding is
~1e-15, so a 1e-10 tolerance holds on any machine and any convolution algorithm."""
import itertools

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from archlab import create_model
from archlab.papers.deep_vs_shallow.models import ACTIVATIONS, parameter_count

GRID = list(itertools.product(
    [1, 2, 5],  # layers
    [3, 8],  # filters
    [1, 3, 4],  # kernel (4: even kernels use asymmetric 'same' padding)
    [1, 2, 4],  # pool
    [False, True],  # batchnorm
    ["flatten", "gap"],  # head
    [(1, 8, 8), (3, 12, 10)],  # input shape (non-square too)
))


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("layers,filters,kernel,pool,batchnorm,head,shape", GRID)
def test_parameter_parity(layers, filters, kernel, pool, batchnorm, head, shape):
    kw = dict(layers=layers, filters=filters, kernel=kernel, pool=pool, batchnorm=batchnorm, head=head,
              input_shape=shape, num_classes=7)
    seq, par = create_model("sequential", **kw), create_model("parallel", **kw)
    assert n_params(seq) == n_params(par) == parameter_count(**kw)
    x = torch.randn(2, *shape)
    assert seq(x).shape == par(x).shape == (2, 7)


def test_worked_example_parameter_count():
    # A worked example: F=16, k=3, L=4, MNIST, pool 4 -> 17,290 parameters in both layouts.
    for name in ("sequential", "parallel"):
        assert n_params(create_model(name, layers=4, filters=16, kernel=3, pool=4, input_shape=(1, 28, 28))) == 17290


def separate_branches(body):
    """The L branch convolutions (and BNs) as separate modules holding copies of the fused weights."""
    L, Fc = body.layers, body.filters
    convs, bns = [], []
    for i in range(L):
        s = slice(i * Fc, (i + 1) * Fc)
        conv = nn.Conv2d(Fc, Fc, body.conv.kernel_size, padding="same", dtype=torch.float64)
        conv.weight.data.copy_(body.conv.weight[s])
        conv.bias.data.copy_(body.conv.bias[s])
        convs.append(conv)
        if body.bn is not None:
            bn = nn.BatchNorm2d(Fc, dtype=torch.float64)
            bn.weight.data.copy_(body.bn.weight[s])
            bn.bias.data.copy_(body.bn.bias[s])
            bn.running_mean.copy_(body.bn.running_mean[s])
            bn.running_var.copy_(body.bn.running_var[s])
            bns.append(bn)
    return convs, bns


def randomise_bn(body):
    if body.bn is not None:  # non-trivial affine and running stats, so slicing errors would show
        for t in (body.bn.weight.data, body.bn.bias.data, body.bn.running_mean):
            t.normal_()
        body.bn.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("batchnorm,train", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_parallel_equals_explicit_sum(activation, batchnorm, train, channels_last):
    torch.manual_seed(0)
    model = create_model("parallel", layers=3, filters=4, kernel=3, activation=activation, batchnorm=batchnorm,
                         input_shape=(1, 8, 8)).double()
    body = model.body
    randomise_bn(body)
    convs, bns = separate_branches(body)
    h0 = torch.randn(5, 4, 8, 8, dtype=torch.float64)
    body.train(train)
    for bn in bns:
        bn.train(train)
    act = ACTIVATIONS[activation]
    expected = h0 + sum(act(bns[i](c(h0)) if bns else c(h0)) for i, c in enumerate(convs))
    if channels_last:
        body, h0 = body.to(memory_format=torch.channels_last), h0.to(memory_format=torch.channels_last)
    torch.testing.assert_close(body(h0), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("batchnorm,train", [(False, False), (True, False), (True, True)])
def test_sequential_equals_explicit_stack(batchnorm, train):
    torch.manual_seed(1)
    body = create_model("sequential", layers=3, filters=4, kernel=3, activation="tanh", batchnorm=batchnorm,
                        input_shape=(1, 8, 8)).double().body
    randomise_bn(body)
    convs, bns = separate_branches(body)
    body.train(train)
    h = x = torch.randn(5, 4, 8, 8, dtype=torch.float64)
    for i, c in enumerate(convs):
        if bns:
            bns[i].train(train)
        h = h + torch.tanh(bns[i](c(h)) if bns else c(h))
    torch.testing.assert_close(body(x), h, rtol=1e-10, atol=1e-10)


def test_sequential_batchnorm_updates_every_slice_of_the_shared_running_stats():
    body = create_model("sequential", layers=3, filters=4, batchnorm=True, input_shape=(1, 8, 8)).body.train()
    body(torch.randn(8, 4, 8, 8) + 3.0)
    assert (body.bn.running_mean != 0).all() and (body.bn.running_var != 1).all()


def test_both_layouts_share_one_state_dict_layout():
    # Same tensors, same names: a sequential checkpoint loads into the parallel layout (used by the truncation check).
    kw = dict(layers=2, filters=4, batchnorm=True, input_shape=(1, 8, 8))
    seq, par = create_model("sequential", **kw), create_model("parallel", **kw)
    par.load_state_dict(seq.state_dict())
    assert seq.state_dict().keys() == par.state_dict().keys()


def test_layouts_differ_but_agree_with_a_single_layer():
    # With L = 1 the expansion has no higher-order terms: both layouts compute the same function.
    torch.manual_seed(2)
    seq = create_model("sequential", layers=1, filters=4, input_shape=(1, 8, 8)).double()
    par = create_model("parallel", layers=1, filters=4, input_shape=(1, 8, 8)).double()
    par.load_state_dict(seq.state_dict())
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(seq(x), par(x), rtol=1e-10, atol=1e-10)
    seq3 = create_model("sequential", layers=3, filters=4, input_shape=(1, 8, 8)).double()
    par3 = create_model("parallel", layers=3, filters=4, input_shape=(1, 8, 8)).double()
    par3.load_state_dict(seq3.state_dict())
    assert not torch.allclose(seq3(x), par3(x), atol=1e-4)  # second-order terms at default init: ~0.1


@pytest.mark.parametrize("kwargs,match", [
    (dict(kernel=9), "kernel=9"),  # larger than the 8px feature map
    (dict(layers=0), "layers=0"),
    (dict(filters=0), "filters=0"),
    (dict(pool=16), "pool=16"),
    (dict(activation="swish"), "swish.*relu"),
    (dict(head="attention"), "attention"),
])
def test_impossible_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("parallel", input_shape=(1, 8, 8), **kwargs)


def test_gradients_reach_every_branch():
    model = create_model("sequential", layers=3, filters=4, input_shape=(1, 8, 8))
    F.cross_entropy(model(torch.randn(4, 1, 8, 8)), torch.tensor([0, 1, 2, 3])).backward()
    per_branch = model.body.conv.weight.grad.unflatten(0, (3, 4)).abs().sum((1, 2, 3, 4))
    assert (per_branch > 0).all()
