"""Classification with localization (notes, "Object localization"): one object per image.

Any zoo architecture becomes the network by giving its last layer 5 + C outputs, the notes'
y = (p_c, b_x, b_y, b_h, b_w, c_1 .. c_C): the same body, input adapter and initialization as
the classifier, so a classification run's weights (all but that last layer) transfer as they
are. The outputs are raw; the loss (F's `localization_loss`, notes or common variant) decides
which of them pass through a sigmoid or a softmax.
"""

from __future__ import annotations

from torch import nn

from traindev.models.registry import build_model
from traindev.tasks.detection.models.params import LocalizationParams

BOX_OUTPUTS = 5  # p_c, b_x, b_y, b_h, b_w


def build_localization(
    params: LocalizationParams, input_shape: tuple[int, int, int], num_classes: int
) -> nn.Module:
    """Registry builder: the zoo network with 5 + C outputs, at the data's (C, H, W)."""
    return build_model(
        params.backbone, params.backbone_params, input_shape, BOX_OUTPUTS + num_classes
    )
