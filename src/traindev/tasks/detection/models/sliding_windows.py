"""Sliding windows and their convolutional implementation (notes, "Sliding windows detection"
and "Convolutional implementation of sliding windows"; Sermanet et al. 2014, OverFeat).

`WindowClassifier` is the ConvNet trained on closely cropped objects (C classes + background,
the last index): 'valid' k x k convolutions + ReLU, each followed by a 2x2 max pool, then fully
connected layers, as the notes draw it (14x14x3 -> CONV 5x5 16 -> POOL 2 -> FC 400 -> FC 400 ->
softmax). Its convolutional implementation (`forward_convolutional`) is the same network with
each FC layer turned into a convolution (the first into a side x side convolution over the last
feature map, the others into 1x1 convolutions) on the same weights: one pass over a whole image
scores every window at the classifier's own stride, sharing the work of overlapping windows.

A scan rescales the image by crop_size / window for each window size, so one classifier serves
every size; both scans share that step, so they score exactly the same windows.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from traindev.tasks.detection.boxes import Detections, batched_nms
from traindev.tasks.detection.models.params import SlidingWindowParams


class WindowClassifier(nn.Module):
    """crop_size x crop_size x C_in -> logits over C classes + background (index C)."""

    def __init__(self, in_channels: int, params: SlidingWindowParams, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for filters in params.conv_filters:
            layers += [
                nn.Conv2d(in_channels, filters, params.kernel_size),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, stride=2),
            ]
            in_channels = filters
        self.features = nn.Sequential(*layers)
        self.feature_side = params.feature_side()
        widths = [in_channels * self.feature_side**2, *params.fc_sizes, num_classes + 1]
        fc: list[nn.Module] = []
        for index in range(len(widths) - 1):
            fc.append(nn.Linear(widths[index], widths[index + 1]))
            if index < len(widths) - 2:
                fc.append(nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(*fc)
        self.crop_size = params.crop_size
        self.stride = params.classifier_stride

    @property
    def num_outputs(self) -> int:
        return self.classifier[-1].out_features

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(crops).flatten(1))

    def fc_as_convolutions(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight, bias) of each FC layer as a convolution.

        The first FC layer reads the flattened C x side x side map in (channel, row, column)
        order, so its weight (out, C * side * side) viewed as (out, C, side, side) is exactly a
        side x side convolution; the later ones are 1x1 convolutions. The kernels are views of
        the FC weights, not copies: they cannot go stale while the classifier trains, and the
        scan traces with torch.export (which the MLflow model needs), where copying weights
        inside forward does not.
        """
        side = self.feature_side
        kernels = []
        for layer in self.classifier:
            if isinstance(layer, nn.Linear):
                in_channels = layer.in_features // side**2
                weight = layer.weight.view(layer.out_features, in_channels, side, side)
                kernels.append((weight, layer.bias))
                side = 1
        return kernels

    def forward_convolutional(self, images: torch.Tensor) -> torch.Tensor:
        """The convolutional implementation: an image of any size in, a map of window logits
        (N, C + 1, rows, cols) out, window (i, j) starting at pixel (i, j) * stride."""
        x = self.features(images)
        kernels = iter(self.fc_as_convolutions())
        for layer in self.classifier:
            x = F.conv2d(x, *next(kernels)) if isinstance(layer, nn.Linear) else layer(x)
        return x


def window_count(size: int, crop_size: int, stride: int) -> int:
    """How many windows of side crop_size fit along `size` pixels at `stride`."""
    return 0 if size < crop_size else (size - crop_size) // stride + 1


def scan_naive(
    classifier: WindowClassifier, images: torch.Tensor, stride: int, chunk: int = 4096
) -> torch.Tensor:
    """Crop every window and classify it: logits (N, rows, cols, C + 1)."""
    crop = classifier.crop_size
    n, channels = images.shape[:2]
    windows = images.unfold(2, crop, stride).unfold(3, crop, stride)  # N, C, rows, cols, k, k
    rows, cols = windows.shape[2:4]
    crops = windows.permute(0, 2, 3, 1, 4, 5).reshape(-1, channels, crop, crop)
    logits = torch.cat([classifier(part) for part in crops.split(chunk)]) if len(crops) else None
    if logits is None:
        return images.new_zeros(n, 0, 0, classifier.num_outputs)
    return logits.view(n, rows, cols, -1)


def scan_convolutional(
    classifier: WindowClassifier, images: torch.Tensor, stride: int
) -> torch.Tensor:
    """One forward pass for every window: logits (N, rows, cols, C + 1), the same windows as
    `scan_naive` (the map is subsampled when `stride` is a multiple of the network's own, and
    trimmed where pooling's rounding would add a window that does not fit the image)."""
    rows = window_count(images.shape[2], classifier.crop_size, stride)
    cols = window_count(images.shape[3], classifier.crop_size, stride)
    step = stride // classifier.stride
    out = classifier.forward_convolutional(images) if rows and cols else None
    if out is None:
        return images.new_zeros(images.shape[0], 0, 0, classifier.num_outputs)
    out = out[:, :, : (rows - 1) * step + 1 : step, : (cols - 1) * step + 1 : step]
    return out.permute(0, 2, 3, 1)


class SlidingWindowDetector(nn.Module):
    """Scan an image at every window size; returns (boxes (K, 4) in image pixels, logits
    (N, K, C + 1)), background last. `classifier` is what trains (on crops); the convolutional
    scan reads the same weights."""

    def __init__(self, classifier: WindowClassifier, params: SlidingWindowParams) -> None:
        super().__init__()
        self.classifier = classifier
        self.window_sizes = list(params.window_sizes)
        self.stride = params.stride
        self.implementation = params.implementation

    def window_boxes(self, height: int, width: int) -> torch.Tensor:
        """(K, 4) boxes (x_min, y_min, x_max, y_max) of every scanned window, in scan order."""
        boxes = []
        crop = self.classifier.crop_size
        for window in self.window_sizes:
            rows, cols = self._scaled_size(height, width, window)
            scale = window / crop
            ys = torch.arange(window_count(rows, crop, self.stride)) * self.stride * scale
            xs = torch.arange(window_count(cols, crop, self.stride)) * self.stride * scale
            y, x = torch.meshgrid(ys, xs, indexing="ij")
            corner = torch.stack([x.flatten(), y.flatten()], dim=1)
            boxes.append(torch.cat([corner, corner + window], dim=1))
        return torch.cat(boxes).float()

    def _scaled_size(self, height: int, width: int, window: int) -> tuple[int, int]:
        scale = self.classifier.crop_size / window
        return round(height * scale), round(width * scale)

    def scan(self, images: torch.Tensor, window: int) -> torch.Tensor:
        """Window logits (N, rows, cols, C + 1) for one window size."""
        size = self._scaled_size(images.shape[2], images.shape[3], window)
        if size != tuple(images.shape[2:]):
            images = F.interpolate(
                images, size=size, mode="bilinear", align_corners=False, antialias=True
            )
        if self.implementation == "naive":
            return scan_naive(self.classifier, images, self.stride)
        return scan_convolutional(self.classifier, images, self.stride)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = images.shape[0]
        logits = [
            self.scan(images, window).reshape(n, -1, self.classifier.num_outputs)
            for window in self.window_sizes
        ]
        boxes = self.window_boxes(images.shape[2], images.shape[3]).to(images.device)
        return boxes, torch.cat(logits, dim=1)


def decode_windows(
    boxes: torch.Tensor, logits: torch.Tensor, score_threshold: float, iou_threshold: float
) -> list[Detections]:
    """Each image's detections from a scan's (boxes (K, 4), logits (N, K, C + 1)), as `decode`
    does for YOLO: p_c = 1 - P(background) must exceed the threshold, the class is the most
    likely object class, then per-class non-max suppression; the score is p_c."""
    probabilities = torch.softmax(logits.detach().float(), dim=-1)
    objectness = 1.0 - probabilities[..., -1]
    classes = probabilities[..., :-1].argmax(dim=-1)
    detections = []
    for p_c, image_classes in zip(objectness, classes, strict=True):
        keep = p_c > score_threshold
        candidates = (boxes[keep], p_c[keep], image_classes[keep])
        order = batched_nms(*candidates, iou_threshold)
        detections.append(Detections(*(field[order] for field in candidates)))
    return detections


def build_sliding_windows(
    params: SlidingWindowParams, input_shape: tuple[int, int, int], num_classes: int
) -> SlidingWindowDetector:
    """Registry builder: a fresh window classifier for the data's channels, C + 1 outputs."""
    return SlidingWindowDetector(WindowClassifier(input_shape[0], params, num_classes), params)
