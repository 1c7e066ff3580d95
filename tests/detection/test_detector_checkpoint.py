"""A detector's checkpoint rebuilds the same network and the encoding it was trained with, and a
classifier's checkpoint file keeps its old bytes (no `detection` entry)."""

from __future__ import annotations

import torch

from traindev.models.registry import build_model
from traindev.tasks.detection.models.registry import build_detector
from traindev.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    DetectorLayout,
    load_checkpoint,
    save_checkpoint,
)

TINY = {"backbone_params": {"filters": [8, 16, 16]}, "head_channels": 16}
ANCHORS = [[1.0, 1.5], [0.5, 0.75]]
CLASSES = ["0", "1", "2"]


def test_detector_checkpoint_rebuilds_the_same_outputs_and_anchors(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_detector("yolo", TINY, (1, 32, 32), 3, grid=4, num_anchors=2).eval()
    layout = DetectorLayout(grid=4, anchors=ANCHORS)
    path = tmp_path / "model.pt"
    save_checkpoint(
        path, Checkpoint("yolo", TINY, (1, 32, 32), CLASSES, 255, model.state_dict(), [], layout)
    )
    loaded = load_checkpoint(path)
    assert loaded.detection == layout
    rebuilt = loaded.build().eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
    targets = loaded.yolo_targets()
    assert (targets.image_size, targets.grid, targets.num_classes) == ((32, 32), 4, 3)
    assert torch.equal(targets.anchors, torch.tensor(ANCHORS))


def test_gridless_detector_has_no_yolo_encoding(tmp_path) -> None:
    checkpoint = Checkpoint("yolo", TINY, (1, 32, 32), CLASSES, 255, {}, [], DetectorLayout())
    try:
        checkpoint.yolo_targets()
    except CheckpointError as exc:
        assert "not a grid" in str(exc)
    else:
        raise AssertionError("a detector without a grid gave a YOLO encoding")


def test_classifier_checkpoint_has_no_detection_entry(tmp_path) -> None:
    arch = {"hidden_sizes": [8], "batch_norm": False}
    model = build_model("deep_nn", arch, (1, 8, 8), 10)
    path = tmp_path / "model.pt"
    save_checkpoint(path, Checkpoint("deep_nn", arch, (1, 8, 8), list("0123456789"), 16,
                                     model.state_dict()))  # fmt: skip
    assert "detection" not in torch.load(path, weights_only=True)
    assert load_checkpoint(path).detection is None


def test_train_logs_a_detector_checkpoint_and_skips_the_classifier_pyfunc_with_a_reason(
    tmp_path, monkeypatch, mlflow_store
) -> None:
    import mlflow
    from helpers.records import training

    from traindev import paths
    from traindev.stages.train import DETECTOR_MODEL_SKIPPED, MODEL_SKIPPED_TAG, _write_outputs

    monkeypatch.chdir(tmp_path)
    model = build_detector("yolo", TINY, (1, 32, 32), 3, grid=4, num_anchors=2)
    layout = DetectorLayout(grid=4, anchors=ANCHORS)
    checkpoint = Checkpoint("yolo", TINY, (1, 32, 32), CLASSES, 255, model.state_dict(), [], layout)
    mlflow.set_tracking_uri(mlflow_store)
    # its own experiment: an earlier test's active experiment id would not exist in this store
    experiment = mlflow.create_experiment("detector")
    with mlflow.start_run(experiment_id=experiment) as run:
        _write_outputs(checkpoint, training("yolo"))
    logged = mlflow.get_run(run.info.run_id)
    assert logged.data.tags[MODEL_SKIPPED_TAG] == DETECTOR_MODEL_SKIPPED
    assert mlflow.search_logged_models(filter_string=f"source_run_id = '{run.info.run_id}'",
                                       output_format="list") == []  # fmt: skip
    assert load_checkpoint(paths.model_dir("yolo") / paths.CHECKPOINT_FILE).detection == layout
