"""RNN / GRU / LSTM classifiers that read an image row by row (course 5, week 1).

An NCHW image becomes a sequence of T_x = H steps; step t is row t, flattened to W * C features
(pixel by pixel, channels innermost). The recurrent core is torch's own ``nn.RNN`` (tanh),
``nn.GRU`` or ``nn.LSTM``; ``num_layers > 1`` is the notes' deep RNN (layer l reads
a^[l-1]<t>), ``bidirectional`` the notes' BRNN, and ``dropout`` sits between stacked layers.

The notes' many-to-one classifier reads the last activation a<T_x> into a softmax; here that is
h_n of the top layer. For a BRNN the notes' output uses [a->, a<-]: the forward direction's last
state (after row H) concatenated with the backward direction's state after it has read back to
row 1, which is exactly h_n of both directions.

Torch's cells differ from the notes' equations in two documented ways: every gate has two bias
vectors (b_ih and b_hh, the cuDNN layout), giving gates * (h * (x + h) + 2h) parameters per layer
and direction, and the GRU applies its reset gate after the recurrent matmul,
r * (W_hn h + b_hn), instead of W_c [r * c<t-1>, x<t>].
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.models.params import SequenceParams

RECURRENT_CORES: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
# Weight blocks per layer and direction: tanh RNN 1, GRU 3 (update, reset, candidate),
# LSTM 4 (update/input, forget, output, candidate).
GATES: dict[str, int] = {"rnn": 1, "gru": 3, "lstm": 4}


def image_to_sequence(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, H, W * C): row t of the image is time step t (batch_first)."""
    # flatten, not reshape with sizes read off x: keeps the batch dim symbolic under export.
    return x.permute(0, 2, 3, 1).flatten(2)


class SequenceClassifier(nn.Module):
    """Recurrent core over image rows -> final hidden state(s) of the top layer -> Linear."""

    def __init__(
        self, params: SequenceParams, in_features: int, num_classes: int, variant: str
    ) -> None:
        super().__init__()
        if variant not in RECURRENT_CORES:
            raise ValueError(f"unknown sequence variant {variant!r}; valid: rnn, gru, lstm")
        self.variant = variant
        self.num_directions = 2 if params.bidirectional else 1
        # Torch warns (and does nothing) with dropout on a single layer; there is no "between".
        dropout = params.dropout if params.num_layers > 1 else 0.0
        self.recurrent = RECURRENT_CORES[variant](
            input_size=in_features,
            hidden_size=params.hidden_size,
            num_layers=params.num_layers,
            dropout=dropout,
            bidirectional=params.bidirectional,
            batch_first=True,
        )
        self.head = nn.Linear(params.hidden_size * self.num_directions, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.recurrent(image_to_sequence(x))
        h_n = state[0] if isinstance(state, tuple) else state  # the LSTM also returns c_n
        # h_n: (num_layers * num_directions, N, h); the top layer's directions are the last rows.
        top = h_n[-self.num_directions :]
        return self.head(top.permute(1, 0, 2).flatten(1))


def build_sequence_classifier(
    params: SequenceParams,
    input_shape: tuple[int, int, int],
    num_classes: int,
    variant: str,
) -> SequenceClassifier:
    """Registry builder for rnn / gru / lstm: T_x = H steps of W * C features (any H, W)."""
    channels, _, width = input_shape
    return SequenceClassifier(params, width * channels, num_classes, variant)
