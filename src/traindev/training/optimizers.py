"""The notes' optimizers, built from `train` params.

`l2` is passed as weight decay: for SGD, momentum, RMSprop and Adam that adds
l2 * W to the gradient, i.e. the notes' L2 penalty (lambda / 2m) ||W||^2 with
l2 = lambda / m; AdamW applies it decoupled from the adaptive step.
"""

from __future__ import annotations

import torch

from traindev.config import TrainParams


def build_optimizer(parameters, params: TrainParams) -> torch.optim.Optimizer:
    common = {"lr": params.lr, "weight_decay": params.l2}
    match params.optimizer:
        case "sgd":
            return torch.optim.SGD(parameters, **common)
        case "momentum":
            return torch.optim.SGD(parameters, momentum=params.momentum, **common)
        case "rmsprop":
            return torch.optim.RMSprop(parameters, alpha=params.beta2, eps=params.epsilon, **common)
        case "adam":
            return torch.optim.Adam(
                parameters, betas=(params.beta1, params.beta2), eps=params.epsilon, **common
            )
        case "adamw":
            return torch.optim.AdamW(
                parameters, betas=(params.beta1, params.beta2), eps=params.epsilon, **common
            )
    raise ValueError(f"train.optimizer: unknown optimizer {params.optimizer!r}")
