"""`compare`: train a list of architectures on the same split and rebuild the comparison report.

    python -m pipeline.compare lenet5 resnet18 mobilenet_v2

It is `reproduce` with `train.architectures` set, nothing more. The list is written into
params.yaml first, as `dvc exp run -S train.architectures=[...]` would write it, comments
kept, and validated before anything is written. The ingest, synthesis and split stages do not
read that key, so DVC keeps their outputs and every model sees the same split; an architecture
already trained with the same params is not trained again. The report, the selection and the
MLflow runs then cover exactly the listed architectures. Commit params.yaml and dvc.lock to keep
the comparison, or `git checkout params.yaml dvc.lock && dvc checkout` to go back.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from prefect import flow, get_run_logger
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq

from pipeline.flows import reproduce
from pipeline.local_server import prefect_api
from traindev.atomic import atomic_file
from traindev.config import ParamsError
from traindev.params_file import validate_params


def round_trip_yaml() -> YAML:
    """A YAML that writes params.yaml back as the project writes it: comments, key order, flow
    lists, block lists indented under their key, and `null` spelled out."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(
        type(None), lambda dumper, _: dumper.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def set_architectures(params_path: Path, architectures: list[str]) -> None:
    """Write `train.architectures` into params.yaml, keeping its comments and layout.

    The edited document is validated as a whole first, so an unknown architecture or a missing
    `models.<name>` section stops here with the params error and params.yaml is untouched.
    """
    if not params_path.is_file():
        raise ParamsError(f"{params_path}: params file not found (run from the project root)")
    yaml = round_trip_yaml()
    document = yaml.load(params_path.read_text())
    train = document.get("train") if isinstance(document, dict) else None
    if train is None:
        raise ParamsError(f"{params_path}: no train section to set train.architectures in")
    listed = train.get("architectures")
    if isinstance(listed, CommentedSeq):
        listed[:] = architectures  # in place: the list keeps its style and its comments
    else:
        train["architectures"] = list(architectures)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    text = buffer.getvalue()
    validate_params(YAML(typ="safe").load(text), source=str(params_path))
    with atomic_file(params_path) as handle:
        handle.write(text)


@flow(name="compare", log_prints=True)
def compare(
    architectures: list[str], project_dir: str = ".", params_file: str = "params.yaml"
) -> dict[str, str]:
    """Set `train.architectures`, then `reproduce`; returns stage -> ran / skipped."""
    if not architectures:
        raise ParamsError("compare: name at least one architecture")
    root = Path(project_dir).resolve()
    set_architectures(root / params_file, architectures)
    logger = get_run_logger()
    logger.info("train.architectures = %s (params.yaml updated)", architectures)
    outcome = reproduce(str(root), params_file)
    logger.info("comparison report: %s", root / "reports" / "report.html")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train architectures on the same split and rebuild the comparison report."
    )
    parser.add_argument("architectures", nargs="+", help="e.g. lenet5 resnet18")
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    try:
        with prefect_api(args.project_dir):  # the project's server, as `make flow` uses
            compare(args.architectures, args.project_dir, args.params)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
