"""`traindev <stage>`: the commands dvc.yaml runs, one per stage.

Imports are deferred to each command so a stage pays only for what it uses
(ingest never imports torch or MLflow).
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
    "ingest": ("ingest", "ingest", False),
    "synthesize": ("synthesize", "synthesize", False),
    "split": ("split", "split", False),
    "augment": ("augment", "train", False),
    "train": ("train", None, True),
    "evaluate": ("evaluate", None, True),
    "analyze": ("analyze", None, True),
    "select": ("select", None, False),
    "report": ("report", None, False),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="traindev", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS_PATH, help="params file (default params.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="<stage>")
    for name, (_, _, takes_arch) in STAGES.items():
        command = commands.add_parser(name, help=f"run the {name} stage")
        if takes_arch:
            command.add_argument("--arch", required=True, help="architecture name from params.yaml")
    commands.add_parser("check", help="validate params.yaml (every key listed and valid) and exit")
    fetch = commands.add_parser("fetch", help="download a public image set (opt-in, never run)")
    fetch.add_argument("name", help="mnist, fashion-mnist, cifar10 or usps")
    fetch.add_argument("--raw", type=Path, default=Path("data/raw"), help="download folder")
    fetch.add_argument("--base-url", help="a mirror, or file:///folder of a local copy")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "fetch":  # not a stage: needs no params.yaml
        from traindev.data.sources.fetch import run_cli

        return run_cli(args)
    try:
        params = load_params(args.params)
        if args.command == "check":
            print(f"{args.params}: valid")
            return 0
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
        return 2
    print(f"traindev {args.command}: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
