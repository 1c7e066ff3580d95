"""`traindev source-ablation --arch NAME`: does the source data help this architecture?

Three DVC experiments of the same architecture on the same split, through `traindev exp-run`
(each validated first, then `dvc exp run -n <name> -S train.source_data.mode=<mode> ...
evaluate@<arch>`, so only that architecture's train and evaluate stages run): all the
training rows, the target's rows only, and the source weighted. After each, its dev
predictions are read from the workspace; the paired verdict (evaluation.source_ablation) goes
to reports/source_ablation/<arch>.json, which the report stage shows.

The experiments run in the workspace one after the other, the arm matching the workspace's
own train.source_data last and without `-S` (DVC rewrites params.yaml when it applies one,
comments and all, and dvc.lock would then record that file's hash): params.yaml is put back
first, so the workspace ends where it started, params.yaml, dvc.lock and outputs alike.
`dvc exp show` lists all three.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from traindev import paths
from traindev.config import DEFAULT_PARAMS_PATH, ParamsError, SourceDataParams
from traindev.data.dvc_hash import directory_md5
from traindev.data.store import read_store
from traindev.evaluation.source_ablation import MODES, ArmErrors, judge
from traindev.params_file import load_params
from traindev.records import write_record
from traindev.records.source_ablation import Mode, SourceAblationRecord
from traindev.training.source_data import is_source, target_domains, training_rows
from traindev.workspace import exp_run


class AblationError(RuntimeError):
    """An experiment failed; the message says which, and that params.yaml is restored."""


def experiment_name(architecture: str, mode: Mode) -> str:
    return f"source-{architecture}-{mode}".replace("_", "-")


def arm_order(current: Mode) -> list[Mode]:
    """The three modes, the workspace's own last: the workspace ends on its own params."""
    return [mode for mode in MODES if mode != current] + [current]


def run(
    architecture: str, weight: float | None = None, params_path: Path = DEFAULT_PARAMS_PATH
) -> SourceAblationRecord:
    """Run the three experiments, judge them, write and return the record."""
    params = load_params(params_path)
    if architecture not in params.train.architectures:
        raise ParamsError(
            f"--arch {architecture!r} is not in train.architectures "
            f"({', '.join(params.train.architectures)})"
        )
    if params.task != "classification" or params.train.multilabel:
        raise ParamsError(
            "traindev source-ablation compares single-label classifiers (task: classification, "
            "no train.multilabel)"
        )
    current = params.train.source_data
    weight = current.weight if weight is None else weight
    SourceDataParams(mode="weighted", weight=weight)  # the same rule as params.yaml's
    original = params_path.read_bytes()
    arms: dict[Mode, ArmErrors] = {}
    try:
        for mode in arm_order(current.mode):
            settings = SourceDataParams(
                mode=mode, weight=weight if mode == "weighted" else current.weight
            )
            own = settings == current  # the workspace's own params: run them as they are
            if own:
                params_path.write_bytes(original)
            arms[mode] = _experiment(architecture, settings, params_path, overrides=not own)
    finally:
        params_path.write_bytes(original)
    store = read_store(paths.SPLIT)
    record = judge(
        architecture,
        [arms[mode] for mode in MODES],
        target_domains(store),
        params.evaluate.diagnosis,
        directory_md5(paths.SPLIT),
    )
    write_record(paths.source_ablation_file(architecture), record)
    return record


def _experiment(
    architecture: str, settings: SourceDataParams, params_path: Path, overrides: bool
) -> ArmErrors:
    name = experiment_name(architecture, settings.mode)
    # A re-run replaces the experiment of the same name (dvc exp run refuses a taken name).
    subprocess.run(
        [sys.executable, "-m", "dvc", "exp", "remove", name], capture_output=True, check=False
    )
    args = ["-n", name]
    if overrides:
        args += [
            "-S",
            f"train.source_data.mode={settings.mode}",
            "-S",
            f"train.source_data.weight={settings.weight}",
        ]
    args.append(f"evaluate@{architecture}")
    print(f"traindev source-ablation: {name}: dvc exp run {' '.join(args)}", flush=True)
    status = exp_run(args, params_path)
    if status != 0:
        raise AblationError(
            f"experiment {name} failed (dvc exp run exited {status}); params.yaml is restored"
        )
    return arm_errors(architecture, settings, name)


def arm_errors(architecture: str, settings: SourceDataParams, name: str) -> ArmErrors:
    """The workspace's dev predictions of `architecture` and the rows it trained on."""
    predictions = pd.read_parquet(
        paths.evaluation_dir(architecture) / paths.PREDICTIONS_FILE,
        columns=["id", "split", "domain", "label", "prediction"],
    )
    wrong = (predictions["label"].astype(str) != predictions["prediction"].astype(str)).to_numpy()
    dev = (predictions["split"] == "dev").to_numpy()
    store = read_store(paths.SPLIT)
    target_train = (predictions["split"] == "train").to_numpy() & predictions["domain"].astype(
        str
    ).isin(target_domains(store)).to_numpy()
    rows = training_rows(store, settings)
    return ArmErrors(
        mode=settings.mode,
        weight=settings.weight,
        experiment=name,
        train_rows=len(rows),
        source_rows=int(is_source(store, rows).sum()),
        dev_ids=predictions["id"].to_numpy()[dev],
        dev_wrong=wrong[dev],
        target_train_wrong=wrong[target_train],
    )


def summary(record: SourceAblationRecord) -> str:
    """A few lines for the terminal: each arm's dev error and the reading."""
    lines = [
        f"{arm.mode:<12} dev error {arm.dev_error:.2%} "
        f"[{arm.dev_interval[0]:.2%}, {arm.dev_interval[1]:.2%}] "
        f"({arm.train_rows} train rows, {arm.source_rows} source)"
        for arm in record.arms
    ]
    lines.append(record.reading)
    lines.append(f"written to {paths.source_ablation_file(record.architecture)}")
    return "\n".join(lines)
