"""Detection losses: classification with localization (two variants) and YOLO's.

Both read the head's raw layout (p_c logit, box values, class logits) and apply sigmoid to p_c
and softmax to the classes before comparing, so one head and one decode serve every variant.
Each loss sums its terms per image and averages over the batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from traindev.tasks.detection.encoding import BOX, CLASSES, P_C, activate

LocalizationVariant = Literal["notes", "common"]


def localization_loss(
    raw: Tensor, target: Tensor, variant: LocalizationVariant = "notes"
) -> Tensor:
    """Loss of raw outputs (N, 5 + C) against the notes' targets y (N, 5 + C).

    "notes": squared error on every output (p_c, the box, each class) when the image holds an
    object, on p_c alone when it does not. "common", the variant the notes call common practice:
    logistic loss for p_c, softmax cross-entropy for the classes, squared error for the box, the
    last two again only when an object is present.
    """
    raw, target = raw.float(), target.float()  # under autocast too: exp and logs need float32
    present = target[:, P_C]
    box_error = ((raw[:, BOX] - target[:, BOX]) ** 2).sum(dim=1)
    if variant == "notes":
        presence = (torch.sigmoid(raw[:, P_C]) - present) ** 2
        classes = ((torch.softmax(raw[:, CLASSES], dim=1) - target[:, CLASSES]) ** 2).sum(dim=1)
    elif variant == "common":
        presence = F.binary_cross_entropy_with_logits(raw[:, P_C], present, reduction="none")
        classes = F.cross_entropy(raw[:, CLASSES], target[:, CLASSES], reduction="none")
    else:
        raise ValueError(f"unknown localization loss variant {variant!r}; use 'notes' or 'common'")
    return (presence + torch.where(present == 1, box_error + classes, 0)).mean()


def yolo_loss_terms(
    raw: Tensor,
    target: Tensor,
    anchors: Tensor | None,
    lambda_coord: float = 5.0,
    lambda_noobj: float = 0.5,
) -> dict[str, Tensor]:
    """The YOLO loss's four terms, each summed per image and averaged over the batch.

    With 1_obj marking the (cell, anchor) slots that hold an object in `target`:
    - coord = lambda_coord * sum 1_obj [(x - x^)^2 + (y - y^)^2 + (sqrt h - sqrt h^)^2
      + (sqrt w - sqrt w^)^2] (YOLOv1's square roots, so an error weighs more on a small box);
    - object = sum 1_obj (1 - p_c^)^2 and no_object = lambda_noobj * sum 1_noobj (p_c^)^2;
    - classes = sum 1_obj sum_c (c - c^)^2.
    Predictions come from `activate`: YOLOv2's sigmoid offsets and anchor-scaled exponentials.
    """
    predicted = activate(raw.float(), anchors)  # float32 under autocast: exp overflows in half
    target = target.float()
    present = target[..., P_C] == 1
    images = raw.shape[0]
    hit, truth = predicted[present], target[present]
    centre = ((hit[:, 1:3] - truth[:, 1:3]) ** 2).sum()
    size = ((hit[:, 3:5].sqrt() - truth[:, 3:5].sqrt()) ** 2).sum()
    return {
        "coord": lambda_coord * (centre + size) / images,
        "object": ((1 - hit[:, P_C]) ** 2).sum() / images,
        "no_object": lambda_noobj * (predicted[~present][:, P_C] ** 2).sum() / images,
        "classes": ((hit[:, CLASSES] - truth[:, CLASSES]) ** 2).sum() / images,
    }


def yolo_loss(
    raw: Tensor,
    target: Tensor,
    anchors: Tensor | None,
    lambda_coord: float = 5.0,
    lambda_noobj: float = 0.5,
) -> Tensor:
    """The YOLOv1/v2 sum-squared loss of raw outputs (N, S, S, B, 5 + C) against targets.

    lambda_coord (5) weighs the box up and lambda_noobj (0.5) the many empty slots down, as
    YOLOv1 does; see `yolo_loss_terms` for each term.
    """
    terms = yolo_loss_terms(raw, target, anchors, lambda_coord, lambda_noobj)
    return torch.stack(list(terms.values())).sum()
