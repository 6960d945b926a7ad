"""Every registered model: builds through the registry, runs forward and backward, no NaN anywhere."""
import inspect

import pytest
import torch

import archlab.papers  # noqa: F401 - a paper's models register when its package is imported
from archlab.models import create_model, list_models, model_entry

# One family per paper package plus the harness's own models: a new paper's models show up under its name.
FAMILIES = {"basic", "gradient_paths", "deep_vs_shallow", "multipath_routing", "layer_insertion"}
CLASSES = 7  # not the datasets' 10 or 2, so a hard-coded head size shows


def _build(name):
    entry = model_entry(name)
    kwargs = {**entry.test_kwargs, "input_shape": entry.input_shape, "num_classes": CLASSES}
    torch.manual_seed(0)
    return entry, create_model(name, **kwargs)


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_no_nan(name):
    entry, model = _build(name)
    x = torch.randn(2, *entry.input_shape)
    out = model(x)
    assert tuple(out.shape) == (2, CLASSES), f"{name}: logits of shape {tuple(out.shape)}, expected (2, {CLASSES})"
    assert torch.isfinite(out).all()
    loss = torch.nn.functional.cross_entropy(out, torch.zeros(2, dtype=torch.long))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None for g in grads), f"{name}: no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


@pytest.mark.parametrize("name", list_models())
def test_every_model_takes_input_shape_and_num_classes(name):
    """The one keyword contract (docs/harness-api.md): the harness passes the data's sample shape and classes to
    every factory by these names, and nothing else about the input."""
    params = inspect.signature(model_entry(name).fn).parameters
    assert "input_shape" in params and "num_classes" in params, name
    assert not {"in_chans", "in_features", "image_size"} & set(params), name


def test_families_are_the_papers():
    assert {model_entry(n).family for n in list_models()} == FAMILIES


def test_unknown_model_names_valid_choices():
    with pytest.raises(ValueError, match="small_cnn"):
        create_model("no_such_model")


def test_unknown_argument_is_refused():
    with pytest.raises(TypeError, match="widht"):
        create_model("small_cnn", widht=8)
