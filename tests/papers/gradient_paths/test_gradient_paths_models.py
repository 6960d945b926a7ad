"""Paper 1 models: the stage bodies compute what the methods note says, and cost what its table says."""
import pytest
import torch

from archlab.models import create_model, list_models
from archlab.papers.gradient_paths.blocks import BasicBlock, CSPStage
from archlab.papers.gradient_paths.models import fig7_net
from archlab.train import count_params


def close(a, b) -> bool:
    """Equal up to float64 rounding: the tests below run two computations equal in exact arithmetic in float64,
    where any difference (summation order) is ~1e-14 on these O(1) values; a wrong wiring moves them by O(1)."""
    return torch.allclose(a, b, rtol=0, atol=1e-10)


def _params(name, **kw):
    with torch.device("meta"):
        return count_params(create_model(name, **kw))


@pytest.mark.parametrize("blocks, expect", [(2, dict(gp_resnet=3.5, gp_csp_fusion=1.4, gp_vovnet=2.4, gp_elan=1.4)),
                                            (4, dict(gp_resnet=6.6, gp_csp_fusion=2.1, gp_vovnet=4.4, gp_elan=2.3)),
                                            (8, dict(gp_resnet=12.8, gp_csp_fusion=3.7, gp_vovnet=8.3, gp_elan=4.0))])
def test_parameter_counts_match_note_table(blocks, expect):
    # docs/papers/gradient_paths.md (parameter table): approximate millions of parameters at C = (64, 128, 256).
    for name, millions in expect.items():
        got = _params(name, widths=(64, 128, 256), blocks=blocks) / 1e6
        assert abs(got - millions) <= 0.06, f"{name} blocks={blocks}: {got:.2f}M vs the note's {millions}M"


def test_resnet_variants_share_parameters_and_forward():
    torch.manual_seed(0)
    ref = create_model("gp_resnet", widths=(8, 16, 32), blocks=2).double().eval()
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    for name in ("gp_resnet_sg_block", "gp_resnet_sg_identity"):
        m = create_model(name, widths=(8, 16, 32), blocks=2).double().eval()
        m.load_state_dict(ref.state_dict())  # same parameter names and shapes
        # stop-gradient changes the backward pass only
        assert close(m(x), ref(x)), name
    assert _params("gp_prn", widths=(8, 16, 32), blocks=2) == _params("gp_resnet", widths=(8, 16, 32), blocks=2)


def test_stop_gradient_blocks_route_gradients():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64, requires_grad=True)
    sg_block = BasicBlock(8, "sg_block").double()
    (gx,) = torch.autograd.grad(sg_block(x).sum(), x)
    f = sg_block.cv2(sg_block.cv1(x)).detach()  # F's output as a constant: x only reaches y through the identity
    (ref,) = torch.autograd.grad(sg_block.act(f + x).sum(), x)
    assert close(gx, ref)

    sg_id = BasicBlock(8, "sg_identity").double()
    sg_id.load_state_dict(sg_block.state_dict())
    (gx,) = torch.autograd.grad(sg_id(x).sum(), x)
    y = sg_id.act(sg_id.cv2(sg_id.cv1(x)) + x.detach())  # the identity carries no gradient: PlainNet's path
    (ref,) = torch.autograd.grad(y.sum(), x)
    assert close(gx, ref)
    assert not close(gx, torch.autograd.grad(BasicBlock(8).double()(x).sum(), x)[0])


@pytest.mark.parametrize("rho, same_as", [(0.0, "none"), (1.0, "identity")])
def test_prn_limits_are_plain_and_resnet(rho, same_as):
    # PRN Eq. 1: c = 0 gives PlainNet, c = C gives ResNet.
    torch.manual_seed(1)
    prn, ref = BasicBlock(8, "prn", rho).double().eval(), BasicBlock(8, same_as).double().eval()
    ref.load_state_dict(prn.state_dict())
    x = torch.randn(2, 8, 5, 5, dtype=torch.float64)
    assert close(prn(x), ref(x))


def test_prn_adds_identity_to_first_channels_only():
    torch.manual_seed(2)
    prn, plain, res = (BasicBlock(8, s, 0.5).double().eval() for s in ("prn", "none", "identity"))
    plain.load_state_dict(prn.state_dict())
    res.load_state_dict(prn.state_dict())
    x = torch.randn(2, 8, 5, 5, dtype=torch.float64)
    y = prn(x)
    assert close(y[:, :4], res(x)[:, :4])
    assert close(y[:, 4:], plain(x)[:, 4:])


def test_csp_fusion_variants_cost_less_than_resnet_and_order_by_transitions():
    kw = dict(widths=(16, 32, 64), blocks=3)
    p = {f: _params(f"gp_csp_{f}", **kw) for f in ("fusion", "first", "last", "none")}
    assert p["fusion"] > p["first"] > p["last"] > p["none"]  # T (C x C) costs more than T_b (C/2 x C/2)
    assert max(p.values()) < _params("gp_resnet", **kw)
    with pytest.raises(ValueError, match="even"):
        CSPStage(7, 1)
    with pytest.raises(ValueError, match="fusion"):
        CSPStage(8, 1, "middle")


def test_block_groups_are_same_shaped_units():
    m = create_model("gp_elan", widths=(8, 16, 32), blocks=3)
    groups = m.block_groups()
    assert list(groups) == ["stage1", "stage2", "stage3"] and all(len(v) == 3 for v in groups.values())
    shapes = {}
    hooks = [b.register_forward_hook(lambda mod, i, o, s=s: shapes.setdefault(s, set()).add(tuple(o.shape)))
             for s, bs in groups.items() for b in bs]
    m(torch.randn(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert all(len(v) == 1 for v in shapes.values())


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="rho"):
        create_model("gp_prn", rho=1.5)
    with pytest.raises(ValueError, match="blocks"):
        create_model("gp_resnet", blocks=(1, 2))
    with pytest.raises(ValueError, match="odd"):
        fig7_net("resnet", layers=4)
    with pytest.raises(ValueError, match="kind"):
        fig7_net("sparsenet")


@pytest.mark.parametrize("name", ["gp_resnet", "gp_prn", "gp_csp_first", "gp_vovnet", "gp_vovnet_elan", "gp_elan",
                                  "gp_csp_elan"])
def test_a_stride_two_stem_halves_every_stage_and_keeps_the_parameters(name):
    # the cpu profile's cost lever: the stage bodies (and so every gradient path) are unchanged, only smaller maps
    shapes = {}
    for s in (1, 2):
        m = create_model(name, widths=(8, 16, 32), blocks=2, stem_stride=s)
        h = m.stages[0].register_forward_hook(lambda mod, i, o, s=s: shapes.__setitem__(s, tuple(o.shape[2:])))
        m(torch.zeros(1, 3, 32, 32))
        h.remove()
    assert shapes == {1: (32, 32), 2: (16, 16)}
    assert _params(name, widths=(8, 16, 32), blocks=2, stem_stride=2) == _params(name, widths=(8, 16, 32), blocks=2)
    with pytest.raises(ValueError, match="stem_stride"):
        create_model(name, stem_stride=3)


def test_every_family_is_registered():
    names = set(list_models("gp_*"))
    assert {"gp_plain", "gp_resnet", "gp_resnet_sg_block", "gp_resnet_sg_identity", "gp_prn", "gp_csp_fusion",
            "gp_csp_first", "gp_csp_last", "gp_csp_none", "gp_vovnet", "gp_vovnet_elan", "gp_elan",
            "gp_csp_elan"} <= names
