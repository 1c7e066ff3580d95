"""`sweep`: hyperparameter search as the notes teach it, over DVC experiments.

    python -m pipeline.sweep                      # params.yaml's `sweep` section
    python -m pipeline.sweep --trials 4 --fine-trials 2 --parallelism 2

Random points, not a grid, each knob on its own scale (pipeline/search_space.py), then a
second, finer round sampled around the best trials of the first. Every trial is a DVC
experiment (`dvc exp run --temp -S key=value ...`, listed in `dvc exp show`) whose stages
log MLflow runs nested under the sweep's own run. At the end `select`'s rule (one optimizing
metric, satisficing thresholds) picks the winner among every trial's models. The flow holds
no ML logic: DVC runs the stages, MLflow records them, traindev.selection decides.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

import traindev  # noqa: F401  (sets the tools quiet and offline)
from pipeline.dvc_graph import dvc
from pipeline.flows import error_lines
from pipeline.local_server import prefect_api
from pipeline.search_space import Knob, parse_space, refine_region, sample, to_dvc_overrides
from traindev.config import ParamsError, SweepParams
from traindev.machine import usable_cores
from traindev.params_file import validate_params
from traindev.records import write_record
from traindev.records.sweep import SweepSummary, SweepTrial, SweepWinner
from traindev.selection.candidates import candidate_from_run
from traindev.selection.rules import Selection, select_from_params
from traindev.tracking import EXPERIMENT, PARENT_RUN_ENV, TRIAL_ENV, TRIAL_TAG, flatten

SWEEP_TAG = "traindev.sweep"
SWEEPS_DIR = Path("reports") / "sweeps"


class TrialFailed(RuntimeError):
    """`dvc exp run` failed for one trial; the message carries the stage's own error."""


@dataclass(frozen=True)
class Trial:
    name: str  # also the DVC experiment's name
    round: str  # "coarse" or "fine"
    config: dict[str, Any]  # dotted params key -> value


@dataclass(frozen=True)
class TrialSetting:
    """What every trial of one sweep shares."""

    project_dir: str
    tracking_uri: str
    parent_run_id: str
    targets: list[str]  # each architecture's evaluate stage
    environment: dict[str, str]  # extra variables for the trial's stages (thread caps)


@task(task_run_name="{trial.name}")
def run_trial(trial: Trial, setting: TrialSetting) -> str:
    """One `dvc exp run` in its own temporary workspace, logging into the sweep's run.

    Only up to the evaluate stages: the sweep selects among the trials itself, so a per-trial
    select, error analysis and report would be wasted work.
    """
    logger = get_run_logger()
    overrides = to_dvc_overrides(trial.config)
    logger.info("%s (%s): %s", trial.name, trial.round, " ".join(overrides))
    args = ["exp", "run", "--temp", "--name", trial.name]
    for override in overrides:
        args += ["--set-param", override]
    args += setting.targets
    env = {
        **setting.environment,
        "MLFLOW_TRACKING_URI": setting.tracking_uri,
        PARENT_RUN_ENV: setting.parent_run_id,
        TRIAL_ENV: trial.name,
    }
    result = dvc(*args, cwd=setting.project_dir, env=env)
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("traindev "):
            logger.info(line)
    if result.returncode != 0:
        raise TrialFailed(
            f"trial {trial.name} ({' '.join(overrides)}) failed:\n{error_lines(result.stderr)}"
        )
    return trial.name


def thread_caps(settings: SweepParams) -> dict[str, str]:
    """Each concurrent trial's share of this machine's cores, as OpenMP / MKL thread counts.

    Without a cap every trial's torch starts one thread per core, and N parallel trials
    oversubscribe the machine N-fold. A cap the user set, or trials on a remote Dask cluster
    (whose machines this one cannot see), are left alone.
    """
    if "OMP_NUM_THREADS" in os.environ or settings.dask_address:
        return {}
    share = str(max(1, usable_cores() // settings.parallelism))
    return {"OMP_NUM_THREADS": share, "MKL_NUM_THREADS": share}


@flow(name="sweep", log_prints=True)
def sweep(
    project_dir: str = ".",
    params_file: str = "params.yaml",
    name: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Coarse then fine random search; returns the winner, every trial and the region."""
    root = Path(project_dir).resolve()
    raw = yaml.safe_load((root / params_file).read_text())
    params = validate_params(raw)
    settings = sweep_settings(params.sweep, overrides)
    knobs = parse_space(settings.space)
    if not knobs:
        raise ParamsError("sweep.space is empty: name at least one params key to search")
    name = name or time.strftime("sweep-%Y%m%d-%H%M%S")
    uri = tracking_uri(root)
    client = MlflowClient(uri)
    parent = client.create_run(
        experiment_id(client, root), run_name=name, tags={SWEEP_TAG: name, "traindev.kind": "sweep"}
    )
    parent_id = parent.info.run_id
    logger = get_run_logger()
    try:
        for key, value in flatten({"sweep": settings.model_dump()}).items():
            client.log_param(parent_id, key, str(value)[:6000])
        coarse = trials_for(name, "coarse", sample(knobs, settings.trials, settings.seed))
        check_configs(raw, coarse)
        architectures = params.train.architectures
        setting = TrialSetting(
            project_dir=str(root),
            tracking_uri=uri,
            parent_run_id=parent_id,
            targets=[f"evaluate@{arch}" for arch in architectures],
            environment=thread_caps(settings),
        )
        failed = run_round(coarse, setting)
        region: list[Knob] = []
        if settings.fine_trials:
            best = best_configs(
                client, parent_id, params.select, coarse, settings.fine_from_best, architectures
            )
            region = refine_region(knobs, best, settings.shrink)
            logger.info("fine region: %s", "; ".join(describe(knob) for knob in region))
            draws = sample(knobs, settings.fine_trials, settings.seed + 1, best, settings.shrink)
            fine = trials_for(name, "fine", draws)
            check_configs(raw, fine)
            failed += run_round(fine, setting)
        else:
            fine = []
        candidates = sweep_candidates(client, parent_id, coarse + fine, architectures)
        selection = select_from_params(candidates, params.select)
        summary = summarize(name, parent_id, selection, coarse + fine, failed, region)
        record_winner(client, parent_id, selection, root / SWEEPS_DIR / f"{name}.json", summary)
        client.set_terminated(parent_id, "FINISHED")
    except BaseException:
        client.set_terminated(parent_id, "FAILED")
        raise
    logger.info(summary.explanation)
    return summary.model_dump(mode="json")


def sweep_settings(settings: SweepParams, overrides: dict[str, Any] | None) -> SweepParams:
    """params.yaml's `sweep` section with command-line overrides, validated together."""
    try:
        return SweepParams.model_validate({**settings.model_dump(), **(overrides or {})})
    except ValueError as exc:
        raise ParamsError(f"sweep overrides {overrides}: {exc}") from exc


def tracking_uri(root: Path) -> str:
    """The project's tracking store, made explicit: trials run in temporary workspaces."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"


def experiment_id(client: MlflowClient, root: Path) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    location = (
        (root / "mlruns").resolve().as_uri() if tracking_uri(root).startswith("sqlite") else None
    )
    return client.create_experiment(EXPERIMENT, artifact_location=location)


def trials_for(name: str, round_name: str, configs: list[dict[str, Any]]) -> list[Trial]:
    prefix = "c" if round_name == "coarse" else "f"
    return [
        Trial(f"{name}-{prefix}{i:02d}", round_name, config) for i, config in enumerate(configs, 1)
    ]


def check_configs(raw: dict[str, Any], trials: list[Trial]) -> None:
    """Validate every trial's params before launching any, so a bad space fails in seconds."""
    for trial in trials:
        candidate = copy.deepcopy(raw)
        for key, value in trial.config.items():
            set_dotted(candidate, key, value)
        try:
            validate_params(candidate)
        except ParamsError as exc:
            raise ParamsError(f"sweep.space gives {trial.name} invalid params: {exc}") from exc


def set_dotted(params: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        if not isinstance(node.get(part), dict):
            raise ParamsError(f"sweep.space.{key}: params.yaml has no section {part!r} there")
        node = node[part]
    if leaf not in node:
        raise ParamsError(f"sweep.space.{key}: params.yaml has no key {leaf!r}; check the spelling")
    node[leaf] = value


def run_round(trials: list[Trial], setting: TrialSetting) -> list[dict[str, str]]:
    """Run trials concurrently on the flow's task runner; a failed trial is recorded, not fatal.

    A diverging learning rate is a legitimate sweep outcome: the other trials still count.
    """
    futures = [run_trial.submit(trial, setting) for trial in trials]
    failed = []
    for trial, future in zip(trials, futures, strict=True):
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            failed.append({"trial": trial.name, "error": str(outcome)})
            get_run_logger().warning("%s failed: %s", trial.name, outcome)
    if len(failed) == len(trials):
        raise TrialFailed(f"every trial of the round failed; first: {failed[0]['error']}")
    return failed


def trial_runs(client: MlflowClient, parent_id: str) -> list[Run]:
    """The finished, evaluated model runs nested under the sweep."""
    parent = client.get_run(parent_id)
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and attributes.status = 'FINISHED'",
        max_results=5000,
    )
    return [run for run in runs if "final.dev.error" in run.data.metrics]


def sweep_candidates(
    client: MlflowClient, parent_id: str, trials: list[Trial], architectures: list[str]
) -> list:
    """Every trial's models: its nested runs, or, for a trial DVC restored from its run cache
    (the same params as an earlier trial, so nothing re-ran), the run that trained them."""
    runs = {
        (run.data.tags.get(TRIAL_TAG), run.data.tags.get("architecture")): run
        for run in trial_runs(client, parent_id)
    }
    experiment = client.get_run(parent_id).info.experiment_id
    for trial in trials:
        for architecture in architectures:
            if (trial.name, architecture) not in runs:
                earlier = run_with_params(client, experiment, architecture, trial.config)
                if earlier is not None:
                    runs[(trial.name, architecture)] = earlier
    return [
        candidate_from_run(run, name=f"{architecture}@{trial}", source="sweep trial")
        for (trial, architecture), run in runs.items()
    ]


def run_with_params(
    client: MlflowClient, experiment: str, architecture: str, config: dict[str, Any]
) -> Run | None:
    """The newest evaluated run of `architecture` logged with exactly these param values."""
    clauses = [f"tags.architecture = '{architecture}'", "attributes.status = 'FINISHED'"]
    clauses += [f"params.`{key}` = '{value}'" for key, value in config.items()]
    found = client.search_runs(
        [experiment],
        filter_string=" and ".join(clauses),
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    return next((run for run in found if "final.dev.error" in run.data.metrics), None)


def best_configs(
    client: MlflowClient,
    parent_id: str,
    select_params,
    trials: list[Trial],
    count: int,
    architectures: list[str],
) -> list[dict[str, Any]]:
    """The configurations of the `count` best trials so far, by the selection rule."""
    by_name = {trial.name: trial.config for trial in trials}
    candidates = sweep_candidates(client, parent_id, trials, architectures)
    selection = select_from_params(candidates, select_params)
    ordered: list[dict[str, Any]] = []
    for row in selection.rows:
        trial = row.name.rsplit("@", 1)[-1]
        if row.satisfied and trial in by_name and by_name[trial] not in ordered:
            ordered.append(by_name[trial])
    if not ordered:
        raise TrialFailed("no coarse trial met the satisficing thresholds; widen sweep.space")
    return ordered[:count]


def describe(knob: Knob) -> str:
    if knob.scale == "choice":
        return f"{knob.key} in {list(knob.choices)}"
    return f"{knob.key} {knob.scale} [{knob.low:.4g}, {knob.high:.4g}]"


def summarize(
    name: str,
    parent_id: str,
    selection: Selection,
    trials: list[Trial],
    failed: list[dict[str, str]],
    region: list[Knob],
) -> SweepSummary:
    winner = selection.winner
    trial = winner.name.rsplit("@", 1)[-1] if winner else None
    configs = {t.name: t for t in trials}
    competition = selection.as_dict()
    competition["candidates"] = competition.pop("rows")
    return SweepSummary(
        sweep=name,
        mlflow_run_id=parent_id,
        winner=None
        if winner is None
        else SweepWinner(
            model=winner.name,
            run_id=winner.run_id,
            trial=trial,
            config=configs[trial].config if trial in configs else None,
            optimizing=selection.optimizing,
            value=winner.measured.get(selection.optimizing),
        ),
        explanation=selection.explanation,
        trials=[SweepTrial(name=t.name, round=t.round, config=t.config) for t in trials],
        failed=failed,
        fine_region=[describe(knob) for knob in region],
        selection=competition,
    )


def record_winner(
    client: MlflowClient, parent_id: str, selection: Selection, path: Path, summary: SweepSummary
) -> None:
    write_record(path, summary)
    client.log_artifact(parent_id, str(path), "sweep")
    winner = selection.winner
    if winner is None:
        client.set_tag(parent_id, "traindev.winner", "none: no trial met every threshold")
        return
    client.set_tag(parent_id, "traindev.winner", winner.name)
    client.set_tag(parent_id, "traindev.winner_run_id", winner.run_id or "")
    value = winner.measured.get(selection.optimizing)
    if value is not None:
        client.log_metric(parent_id, f"best.{selection.optimizing}", value)


def task_runner(settings: SweepParams):
    """Threads by default (each trial is a subprocess); Dask to spread trials over machines."""
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.parallelism)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise ParamsError(
            "sweep.task_runner: dask needs `pip install prefect-dask`; or use threads"
        ) from exc
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": settings.parallelism, "threads_per_worker": 1}
    )


def run_sweep(
    project_dir: str = ".",
    params_file: str = "params.yaml",
    name: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `sweep` flow on the task runner its params ask for."""
    root = Path(project_dir).resolve()
    params = validate_params(yaml.safe_load((root / params_file).read_text()))
    settings = sweep_settings(params.sweep, overrides)
    runner = task_runner(settings)
    return sweep.with_options(task_runner=runner)(project_dir, params_file, name, overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Random-search sweep over DVC experiments.")
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--name", help="sweep name (default sweep-<timestamp>)")
    parser.add_argument("--trials", type=int, help="override sweep.trials")
    parser.add_argument("--fine-trials", type=int, help="override sweep.fine_trials")
    parser.add_argument("--parallelism", type=int, help="override sweep.parallelism")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in {
            "trials": args.trials,
            "fine_trials": args.fine_trials,
            "parallelism": args.parallelism,
        }.items()
        if value is not None
    }
    with prefect_api(args.project_dir):  # the project's server, as `make flow` uses
        summary = run_sweep(args.project_dir, args.params, args.name, overrides)
    print(json.dumps({k: summary[k] for k in ("sweep", "winner", "explanation")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
