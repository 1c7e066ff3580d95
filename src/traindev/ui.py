"""`traindev ui` (`make ui`): the MLflow UI on this project's runs, lean, opening on them.

MLflow 3.17's `mlflow ui` also starts job-execution workers for its GenAI features (15
processes, about 2.6 GB and a folder left in /dev/shm, measured on an empty store);
`MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false` and one web worker leave 2 processes and about
0.5 GB. The UI of 3.17 picks the experiment's page from its "workflow type" (GenAI unless
the URL or the browser says otherwise), so the address printed opens the model-training runs
in the saved view of their errors and gaps (`saved_view`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from urllib.parse import urlencode

from traindev.evaluation.diagnosis import GAPS

# What keeps the server lean: no GenAI job workers, one web worker for one local user.
LEAN_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
WORKERS = "1"
# A saved view of the runs table (MLflow 3.17's "saved views": an experiment tag holding the
# table's state, in the UI's view list and opened by `?viewStateShareKey=<id>`).
VIEW_ID = "traindev-errors-and-gaps"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_ID}"
VIEW_NAME = "Errors and gaps"
SPLITS_SHOWN = ("train", "train_dev", "dev", "test")


def key_metrics() -> list[str]:
    """What runs are compared on: each split's final error, then the chapter-3 gaps."""
    return [f"final.{split}.error" for split in SPLITS_SHOWN] + [f"gap.{gap.name}" for gap in GAPS]


def saved_view() -> dict[str, str]:
    """The view's experiment tag: the key metrics as columns, the best dev error first."""
    columns = ["attributes.`Dataset`", "attributes.`Models`", "tags.`architecture`"]
    columns += [f"metrics.`{name}`" for name in key_metrics()]
    state = {
        "orderByKey": "metrics.`final.dev.error`",
        "orderByAsc": True,
        "selectedColumns": [*columns, "tags.`diagnosis`"],
    }
    envelope = {"name": VIEW_NAME, "createdAt": 0, "updatedAt": 0, "state": json.dumps(state)}
    return {VIEW_TAG: json.dumps(envelope)}


def server_command(backend_uri: str, host: str, port: int) -> list[str]:
    """The `mlflow ui` command line, run with this interpreter (the project's environment)."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        backend_uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        WORKERS,
    ]


def server_env(base: Mapping[str, str]) -> dict[str, str]:
    """`base` (the caller's environment) with the lean settings, which win over it."""
    return {**base, **LEAN_ENV}


def runs_address(base_url: str, experiment_id: str) -> str:
    """The experiment's runs, as model training, in the saved view of errors and gaps."""
    query = urlencode({"workflowType": "machine_learning", "viewStateShareKey": VIEW_ID})
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def run(host: str, port: int) -> int:
    """Tag the experiment, print where to look, then become the MLflow server."""
    from traindev import tracking

    experiment_id = tracking.configure()
    tracking.set_experiment_tags(experiment_id, tracking.experiment_tags() | saved_view())
    uri = tracking.tracking_uri()
    if uri.startswith(("http://", "https://")):
        print(f"Tracking goes to the server at {uri}; the runs: {runs_address(uri, experiment_id)}")
        return 0
    print(f"MLflow UI on {uri}; the runs: {runs_address(f'http://{host}:{port}', experiment_id)}")
    sys.stdout.flush()
    command = server_command(uri, host, port)
    os.execve(command[0], command, server_env(os.environ))
    return 0  # not reached: the server replaced this process
