"""Reference models for the harness check and the benchmarks (not tied to one paper)."""
from __future__ import annotations

import torch.nn as nn
import torchvision

from . import register_model


def _cba(ci: int, co: int) -> list[nn.Module]:
    return [nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True)]


@register_model(input_shape=(3, 32, 32), test_kwargs={"width": 8})
def small_cnn(num_classes: int = 10, input_shape: tuple = (3, 32, 32), width: int = 32) -> nn.Module:
    """Three conv-BN-ReLU layers, two max-pools and global average pooling: a fast, size-agnostic
    baseline (works from 8x8 digits to 32x32 CIFAR) used to check the harness end to end."""
    return nn.Sequential(
        *_cba(input_shape[0], width),
        *_cba(width, 2 * width), nn.MaxPool2d(2),
        *_cba(2 * width, 4 * width), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes),
    )


@register_model(input_shape=(3, 32, 32), test_kwargs={"num_classes": 10})
def resnet18_cifar(num_classes: int = 10, input_shape: tuple = (3, 32, 32)) -> nn.Module:
    """torchvision's ResNet-18 with the usual CIFAR stem (3x3 stride-1 conv, no max-pool): the
    benchmark's 'real' network, so speed-ups are measured on a model people know."""
    m = torchvision.models.resnet18(num_classes=num_classes)
    m.conv1 = nn.Conv2d(input_shape[0], 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m
