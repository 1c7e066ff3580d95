"""`traindev <stage>`: the commands dvc.yaml runs, one per stage.

Imports are deferred to each command so a stage pays only for what it uses
(ingest never imports torch or MLflow). Besides the stages: `exp-run` and `restore`, where a
user meets DVC directly (`traindev.workspace`), and `fetch`. A stage's error says how to get
the last good outputs back, since DVC deleted them before the stage ran.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from traindev.config import DEFAULT_PARAMS_PATH, ParamsError
from traindev.params_file import load_params

# stage -> (module under traindev.stages, params section it receives, whether it takes --arch)
STAGES: dict[str, tuple[str, str | None, bool]] = {
    "check": ("check", None, False),
    "check-split": ("check_split", None, False),
    "ingest": ("ingest", "ingest", False),
    "synthesize": ("synthesize", "synthesize", False),
    "canvases": ("canvases", None, False),
    "split": ("split", None, False),
    "augment": ("augment", "train", False),
    "train": ("train", None, True),
    "evaluate": ("evaluate", None, True),
    "analyze": ("analyze", None, True),
    "select": ("select", None, False),
    "report": ("report", None, False),
}


HELP = {
    "check": "validate params.yaml (every key listed and valid); dvc.yaml's first stage",
    "check-split": "check the split's sizes against the ingested and synthesized data",
}
CHECKS = ("check", "check-split")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="traindev", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS_PATH, help="params file (default params.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="<stage>")
    for name, (_, _, takes_arch) in STAGES.items():
        command = commands.add_parser(name, help=HELP.get(name, f"run the {name} stage"))
        if takes_arch:
            command.add_argument("--arch", required=True, help="architecture name from params.yaml")
    commands.add_parser(
        "exp-run",
        help="`dvc exp run` with its arguments (-S key=value ...), after validating the params "
        "those overrides give",
    )
    commands.add_parser(
        "restore", help="put back the outputs dvc.lock records (after a failed stage)"
    )
    ablation = commands.add_parser(
        "source-ablation",
        help="does the source data help? three DVC experiments of one architecture (all, "
        "target only, source weighted) and their verdict for the report",
    )
    ablation.add_argument("--arch", required=True, help="architecture name from params.yaml")
    ablation.add_argument(
        "--weight", type=float, help="the source rows' loss weight (default train.source_data)"
    )
    fetch = commands.add_parser("fetch", help="download a public image set (opt-in, never run)")
    fetch.add_argument("name", help="mnist, fashion-mnist, cifar10 or usps")
    fetch.add_argument("--raw", type=Path, default=Path("data/raw"), help="download folder")
    fetch.add_argument("--base-url", help="a mirror, or file:///folder of a local copy")
    ui = commands.add_parser("ui", help="the MLflow UI on this project's runs (make ui)")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ui.add_argument("--port", type=int, default=5000, help="port to listen on")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "exp-run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "fetch":  # not a stage: needs no params.yaml
        from traindev.data.sources.fetch import run_cli

        return run_cli(args)
    if args.command in ("exp-run", "restore"):
        return workspace_command(args.command, extra, args.params)
    if args.command == "source-ablation":  # three DVC experiments, not a stage
        return source_ablation_command(args)
    if args.command == "ui":  # not a stage: the MLflow server on the project's store
        from traindev.ui import run as run_ui

        return run_ui(args.host, args.port)
    try:
        params = load_params(args.params)
        module_name, section, takes_arch = STAGES[args.command]
        if takes_arch and args.arch not in params.train.architectures:
            raise ParamsError(
                f"--arch {args.arch!r} is not in train.architectures "
                f"({', '.join(params.train.architectures)})"
            )
        stage = importlib.import_module(f"traindev.stages.{module_name}")
        stage_params = getattr(params, section) if section else params
        message = stage.run(stage_params, args.arch) if takes_arch else stage.run(stage_params)
    except (ParamsError, ValueError, FileNotFoundError, ArithmeticError) as exc:
        # ArithmeticError: a diverged training loss (NonFiniteLossError), said plainly
        print(f"traindev {args.command}: error: {exc}", file=sys.stderr)
        print(f"traindev {args.command}: {recovery(args.command)}", file=sys.stderr)
        return 2
    print(f"traindev {args.command}: {message}")
    return 0


def recovery(command: str) -> str:
    """How to get back to the last good state after `command` failed under DVC."""
    from traindev.workspace import RESTORE_HINT

    if command in CHECKS:
        return "no stage ran, so the last good outputs are still in place; fix this and run again"
    return (
        f"DVC deletes a stage's outputs before running it: {RESTORE_HINT} (dvc.lock's); "
        "fix this and run again"
    )


def workspace_command(command: str, extra: list[str], params_path: Path) -> int:
    """`traindev exp-run ...` and `traindev restore` (traindev.workspace)."""
    from traindev import workspace

    try:
        if command == "exp-run":
            return workspace.exp_run(extra, params_path)
        restored = workspace.restore()
    except (ParamsError, workspace.RestoreError) as exc:
        print(f"traindev {command}: error: {exc}", file=sys.stderr)
        if command == "exp-run":
            print(f"traindev {command}: nothing ran and params.yaml is unchanged", file=sys.stderr)
        return 2
    print("traindev restore: the last good outputs (dvc.lock) are back")
    for line in restored:
        print(f"  {line}")
    return 0


def source_ablation_command(args: argparse.Namespace) -> int:
    """`traindev source-ablation --arch NAME [--weight W]` (traindev.source_ablation)."""
    from pydantic import ValidationError

    from traindev import source_ablation

    try:
        record = source_ablation.run(args.arch, args.weight, args.params)
    except (ParamsError, ValidationError, source_ablation.AblationError, ValueError) as exc:
        print(f"traindev source-ablation: error: {exc}", file=sys.stderr)
        return 2
    print(source_ablation.summary(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
