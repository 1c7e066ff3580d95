"""Logistic regression, the shallow network and the row-by-row RNN / GRU / LSTM classifiers."""

from __future__ import annotations

import pytest
import torch
from helpers.model_checks import assert_exports_with_dynamic_batch, loss_before_and_after_adam
from torch import nn

from traindev.models.linear import SMALL_RANDOM_SCALE
from traindev.models.params import DeepNetworkParams
from traindev.models.registry import build_model, count_parameters
from traindev.models.sequence import GATES, SequenceClassifier, image_to_sequence

SHAPES = [(1, 8, 8), (3, 32, 32)]
LINEAR = ["logistic_regression", "shallow_nn"]
VARIANTS = ["rnn", "gru", "lstm"]
SMALL = (1, 8, 8)
TINY_SEQUENCE = {"hidden_size": 16}  # keeps the grid of sequence tests fast on 2 cores


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _n_x(shape: tuple[int, int, int]) -> int:
    channels, height, width = shape
    return channels * height * width


def _fixed_batch(shape: tuple[int, int, int], size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(size, *shape, generator=gen), torch.randint(0, 10, (size,), generator=gen)


def _adam_lowers_the_loss(model: nn.Module, shape: tuple[int, int, int], steps: int = 20) -> None:
    x, y = _fixed_batch(shape, size=8)
    before, after = loss_before_and_after_adam(model, x, y, steps=steps, lr=1e-2)
    assert after < before


# --- logistic regression and the shallow network ------------------------------------------


@pytest.mark.parametrize("name", LINEAR)
@pytest.mark.parametrize("shape", SHAPES)
def test_linear_output_shape(name: str, shape: tuple[int, int, int]) -> None:
    model = build_model(name, {}, shape, 10).eval()
    with torch.no_grad():
        out = model(torch.rand(4, *shape))
    assert out.shape == (4, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("shape", SHAPES)
def test_linear_parameter_counts(shape: tuple[int, int, int]) -> None:
    n_x, k, h = _n_x(shape), 10, 64
    assert count_parameters(build_model("logistic_regression", {}, shape, k)) == n_x * k + k
    shallow = n_x * h + h + h * k + k
    assert count_parameters(build_model("shallow_nn", {}, shape, k)) == shallow
    assert count_parameters(build_model("shallow_nn", {"hidden_size": 5}, shape, k)) == (
        n_x * 5 + 5 + 5 * k + k
    )


def test_two_classes_keep_two_outputs() -> None:
    """The notes' sigmoid unit as a 2-way softmax: K = 2 logits for the pipeline's loss."""
    model = build_model("logistic_regression", {}, SMALL, 2)
    assert model(torch.rand(3, *SMALL)).shape == (3, 2)


def test_logistic_zeros_init() -> None:
    model = build_model("logistic_regression", {}, SMALL, 10)
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())
    default = build_model("logistic_regression", {"init": "default"}, SMALL, 10)
    assert torch.count_nonzero(default.linear.weight) > 0


@pytest.mark.parametrize("init", ["small_random", "he", "xavier", "default"])
def test_shallow_network_is_not_zero_initialized(init: str) -> None:
    """Zero weights would make every hidden unit compute the same function (the notes)."""
    torch.manual_seed(0)
    model = build_model("shallow_nn", {"init": init}, SMALL, 10)
    for layer in (model.hidden, model.output):
        assert torch.count_nonzero(layer.weight) == layer.weight.numel()
        # the hidden units differ from each other: the symmetry is broken
        assert not torch.allclose(layer.weight[0], layer.weight[1])


def test_shallow_small_random_is_randn_times_0_01() -> None:
    torch.manual_seed(0)
    model = build_model("shallow_nn", {"hidden_size": 256}, (1, 32, 32), 10)
    weight = model.hidden.weight
    assert weight.std().item() == pytest.approx(SMALL_RANDOM_SCALE, rel=0.02)
    assert torch.count_nonzero(model.hidden.bias) == 0
    assert torch.count_nonzero(model.output.bias) == 0
    assert isinstance(model.activation, nn.Tanh)


def test_linear_wrong_params_type() -> None:
    with pytest.raises(TypeError):
        build_model("shallow_nn", DeepNetworkParams(), SMALL, 10)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("logistic_regression", {}),
        ("shallow_nn", {}),
        ("shallow_nn", {"activation": "relu", "init": "he", "hidden_size": 16}),
    ],
)
def test_linear_adam_steps_lower_the_loss(name: str, params: dict[str, object]) -> None:
    torch.manual_seed(0)
    _adam_lowers_the_loss(build_model(name, params, SMALL, 10), SMALL)


@pytest.mark.parametrize("name", LINEAR)
def test_linear_eval_is_deterministic(name: str) -> None:
    model = build_model(name, {"init": "default"}, SMALL, 10).eval()
    x = torch.rand(4, *SMALL)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


# --- RNN / GRU / LSTM ---------------------------------------------------------------------


def _expected_sequence_parameters(
    variant: str, x: int, h: int, layers: int, bidirectional: bool, k: int
) -> int:
    """Per layer and direction gates * (h * (x + h) + 2h); x = h * directions above layer 1."""
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(layers):
        n_in = x if layer == 0 else h * directions
        total += directions * GATES[variant] * (h * (n_in + h) + 2 * h)
    return total + h * directions * k + k


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("shape", SHAPES)
def test_sequence_shape_and_parameter_count(
    variant: str, bidirectional: bool, num_layers: int, shape: tuple[int, int, int]
) -> None:
    params = {**TINY_SEQUENCE, "bidirectional": bidirectional, "num_layers": num_layers}
    model = build_model(variant, params, shape, 10).eval()
    with torch.no_grad():
        out = model(torch.rand(4, *shape))
    assert out.shape == (4, 10)
    assert torch.isfinite(out).all()
    channels, _, width = shape
    expected = _expected_sequence_parameters(
        variant, width * channels, 16, num_layers, bidirectional, 10
    )
    assert count_parameters(model) == expected


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_default_parameter_count(variant: str) -> None:
    model = build_model(variant, {}, (3, 32, 32), 10)
    assert count_parameters(model) == _expected_sequence_parameters(variant, 96, 128, 1, False, 10)
    core = model.recurrent
    assert core.batch_first and core.input_size == 96 and core.hidden_size == 128
    if variant == "rnn":
        assert core.nonlinearity == "tanh"


def test_rows_are_time_steps() -> None:
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)  # N, C, H, W
    seq = image_to_sequence(x)
    assert seq.shape == (2, 4, 5 * 3)
    # step t is row t; its features are the row's pixels, channels innermost
    assert torch.equal(seq[1, 2], x[1, :, 2, :].T.reshape(-1))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifies_from_the_final_hidden_states(variant: str, bidirectional: bool) -> None:
    """Forward: the state after the last row; backward: the state after reading back to row 1."""
    params = {**TINY_SEQUENCE, "num_layers": 2, "bidirectional": bidirectional}
    model = build_model(variant, params, SMALL, 10).eval()
    assert isinstance(model, SequenceClassifier)
    x = torch.rand(3, *SMALL)
    with torch.no_grad():
        outputs, _ = model.recurrent(image_to_sequence(x))  # top layer, every step
        final = outputs[:, -1, :16]
        if bidirectional:
            final = torch.cat([final, outputs[:, 0, 16:]], dim=1)
        torch.testing.assert_close(model(x), model.head(final))


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_adam_steps_lower_the_loss(variant: str) -> None:
    torch.manual_seed(0)
    params = {**TINY_SEQUENCE, "num_layers": 2, "bidirectional": True, "dropout": 0.1}
    _adam_lowers_the_loss(build_model(variant, params, SMALL, 10), SMALL)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_eval_is_deterministic(variant: str) -> None:
    params = {**TINY_SEQUENCE, "num_layers": 2, "dropout": 0.5}
    model = build_model(variant, params, SMALL, 10)
    assert model.recurrent.dropout == 0.5
    model.eval()
    x = torch.rand(4, *SMALL)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_single_layer_has_no_inter_layer_dropout() -> None:
    """Torch warns on dropout with one layer: there is no "between layers" to drop."""
    model = build_model("gru", {**TINY_SEQUENCE, "dropout": 0.3}, SMALL, 10)
    assert model.recurrent.dropout == 0.0


def test_sequence_rejects_bad_inputs() -> None:
    with pytest.raises(TypeError):
        build_model("lstm", DeepNetworkParams(), SMALL, 10)
    from traindev.models.params import SequenceParams

    with pytest.raises(ValueError, match="variant"):
        SequenceClassifier(SequenceParams(), 8, 10, "transformer")


# nn.RNNBase refreshes its _flat_weights list during export; torch turned that check into a
# warning (pytorch/pytorch#163809) and the weights stay lifted parameters, as asserted below.
@pytest.mark.filterwarnings("ignore:The tensor attributes self.recurrent._flat_weights")
def test_lstm_export_with_dynamic_batch() -> None:
    """What MLflow does: export with a batch-2 example, then run batch 3."""
    params = {**TINY_SEQUENCE, "num_layers": 2, "bidirectional": True, "dropout": 0.2}
    model = build_model("lstm", params, SMALL, 10).eval()
    program = assert_exports_with_dynamic_batch(model, SMALL)
    assert set(program.graph_signature.parameters) == {n for n, _ in model.named_parameters()}
    assert not program.constants
