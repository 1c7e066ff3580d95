"""Schedule `reproduce` on a Prefect server: new data in data/raw is picked up nightly.

    python -m pipeline.serve --cron "0 2 * * *"                  # 02:00 every night

`serve` registers the deployment `reproduce/nightly` and runs its scheduled flow runs in
this process until it is stopped; the Prefect UI lists them. Schedules need a server that
outlives one flow (Prefect's temporary per-process server schedules nothing): this uses the
server PREFECT_API_URL names, or else the project's own local server, the one `make flow`
uses, started here if it is not running (pipeline/local_server.py; `make flow-stop`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import traindev  # noqa: F401  (sets the tools quiet and offline)
from pipeline.flows import reproduce
from pipeline.local_server import prefect_api

DEPLOYMENT = "nightly"


def serve_reproduce(
    project_dir: str = ".",
    cron: str | None = "0 2 * * *",
    interval_seconds: float | None = None,
    name: str = DEPLOYMENT,
) -> None:
    """Serve `reproduce` on a cron schedule (or an interval, for trying it out)."""
    schedule = {"interval": interval_seconds} if interval_seconds else {"cron": cron}
    with prefect_api(project_dir):
        reproduce.serve(
            name=name,
            parameters={"project_dir": str(Path(project_dir).resolve())},
            description="The DVC pipeline, every stage DVC finds out of date.",
            tags=["traindev"],
            **schedule,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve `reproduce` on a schedule.")
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--cron", default="0 2 * * *", help="cron schedule (default nightly)")
    parser.add_argument("--interval", type=float, help="seconds between runs, instead of cron")
    parser.add_argument("--name", default=DEPLOYMENT)
    args = parser.parse_args(argv)
    serve_reproduce(args.project_dir, args.cron, args.interval, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
