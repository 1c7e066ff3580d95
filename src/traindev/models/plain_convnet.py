"""What AlexNet and VGG-16 share: the three-layer FC classifier and the initialization
that lets a deep plain (non-residual) ReLU stack start training."""

from __future__ import annotations

from torch import nn

FC_INIT_STD = 0.01


def fc_classifier(in_features: int, hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    """FC -> FC -> FC, dropout before the two hidden layers as in both papers."""
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(in_features, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )


def init_plain_convnet(model: nn.Module) -> None:
    """He initialization (course 2, week 1; He et al., 2015) on the ReLU convolutions, fan_out
    as in the reference implementation. The FC layers keep the papers' N(0, 0.01)
    (Krizhevsky et al.; Simonyan & Zisserman, section 3.1): small logits at init keep
    Adam's first steps from overshooting."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=FC_INIT_STD)
            nn.init.zeros_(module.bias)
