"""The toy paper's model: a two-layer MLP (registered, so the generic model test and the dry run see it)."""
import torch.nn as nn

from archlab.models import register_model


@register_model(input_shape=(2,), test_kwargs={"hidden": 8})
def toy_mlp(num_classes: int = 2, input_shape: tuple = (2,), hidden: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(input_shape[0], hidden), nn.Tanh(), nn.Linear(hidden, num_classes))
