"""Every registered model: builds through the registry, runs forward and backward, no NaN anywhere."""
import pytest
import torch

from archlab.models import create_model, list_models, model_entry


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_no_nan(name):
    entry = model_entry(name)
    torch.manual_seed(0)
    model = create_model(name, **entry.test_kwargs)
    x = torch.randn(2, *entry.input_shape)
    out = model(x)
    assert out.dim() == 2 and out.shape[0] == 2, f"{name}: logits of shape {tuple(out.shape)}"
    assert torch.isfinite(out).all()
    loss = torch.nn.functional.cross_entropy(out, torch.zeros(2, dtype=torch.long))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None for g in grads), f"{name}: no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


def test_registry_lists_every_family():
    families = {model_entry(n).family for n in list_models()}
    assert "basic" in families and len(list_models()) >= 2


def test_unknown_model_names_valid_choices():
    with pytest.raises(ValueError, match="small_cnn"):
        create_model("no_such_model")


def test_unknown_argument_is_refused():
    with pytest.raises(TypeError, match="widht"):
        create_model("small_cnn", widht=8)
