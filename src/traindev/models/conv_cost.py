"""The notes' arithmetic for the cost of a convolution (course 4, week 2).

Cost = number of multiplications = (#filter params) x (#filter positions) x (#filters), i.e.
``out_h * out_w * out_c * k_h * k_w * in_c``. With it the notes show why inception modules put
a 1x1 "bottleneck" before the 5x5 conv (28x28x192 -> 28x28x32: 120,422,400 multiplications
directly, 12,443,648 through 16 bottleneck channels, about a tenth) and why MobileNets'
depthwise separable convolution is cheap (a fraction ``1/n_c' + 1/f^2`` of a normal conv).

Pure integer functions (no torch), so they double as an executable check of the notes.
"""

from __future__ import annotations

from typing import Protocol


def conv_output_size(n: int, f: int, padding: int = 0, stride: int = 1) -> int:
    """floor((n + 2p - f) / s) + 1, the notes' output-size rule (6x6 with a 3x3 filter: 4x4)."""
    return (n + 2 * padding - f) // stride + 1


def conv_multiplications(out_h: int, out_w: int, out_c: int, k_h: int, k_w: int, in_c: int) -> int:
    """Multiplications of a normal conv: each of the out_h*out_w*out_c outputs is a k_h*k_w*in_c
    dot product."""
    return out_h * out_w * out_c * k_h * k_w * in_c


def bottleneck_multiplications(
    out_h: int, out_w: int, in_c: int, bottleneck_c: int, out_c: int, f: int
) -> int:
    """A 1x1 conv down to ``bottleneck_c`` channels, then the f x f conv to ``out_c`` ('same')."""
    shrink = conv_multiplications(out_h, out_w, bottleneck_c, 1, 1, in_c)
    return shrink + conv_multiplications(out_h, out_w, out_c, f, f, bottleneck_c)


def depthwise_multiplications(out_h: int, out_w: int, in_c: int, f: int) -> int:
    """Depthwise step: one f x f filter per input channel, n_out x n_out x n_c outputs."""
    return out_h * out_w * in_c * f * f


def pointwise_multiplications(out_h: int, out_w: int, in_c: int, out_c: int) -> int:
    """Pointwise step: a normal 1x1 conv from in_c to out_c channels."""
    return conv_multiplications(out_h, out_w, out_c, 1, 1, in_c)


def depthwise_separable_multiplications(
    out_h: int, out_w: int, in_c: int, out_c: int, f: int
) -> int:
    """Depthwise + pointwise: the replacement MobileNets make for one f x f normal conv."""
    return depthwise_multiplications(out_h, out_w, in_c, f) + pointwise_multiplications(
        out_h, out_w, in_c, out_c
    )


def depthwise_separable_cost_ratio(n_c_out: int, f: int) -> float:
    """Depthwise separable / normal cost: 1/n_c' + 1/f^2 (independent of n_c and n_out)."""
    return 1 / n_c_out + 1 / f**2


class ConvLike(Protocol):
    """What ``module_multiplications`` reads from a conv layer (``torch.nn.Conv2d`` fits)."""

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    groups: int


def module_multiplications(conv: ConvLike, out_h: int, out_w: int) -> int:
    """Multiplications of a (possibly grouped) conv layer given its output size.

    Each output sees ``in_channels / groups`` input channels: a depthwise conv (groups ==
    in_channels) is ``depthwise_multiplications``, a groups=1 conv ``conv_multiplications``.
    """
    k_h, k_w = conv.kernel_size
    per_group_in = conv.in_channels // conv.groups
    return conv_multiplications(out_h, out_w, conv.out_channels, k_h, k_w, per_group_in)
