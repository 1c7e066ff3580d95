"""Schedule `reproduce` on a Prefect server: new data in data/raw is picked up nightly.

    prefect server start --host 127.0.0.1 --port 4200          # terminal 1
    export PREFECT_API_URL=http://127.0.0.1:4200/api             # terminal 2
    python -m pipeline.serve --cron "0 2 * * *"                  # 02:00 every night

`serve` registers the deployment `reproduce/nightly` and runs its scheduled flow runs in
this process until it is stopped; the Prefect UI (http://127.0.0.1:4200) lists them. On the
ephemeral server (no PREFECT_API_URL) Prefect schedules nothing, so this refuses to start.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import traindev  # noqa: F401  (sets the tools quiet and offline)
from pipeline.flows import reproduce

DEPLOYMENT = "nightly"


def serve_reproduce(
    project_dir: str = ".",
    cron: str | None = "0 2 * * *",
    interval_seconds: float | None = None,
    name: str = DEPLOYMENT,
) -> None:
    """Serve `reproduce` on a cron schedule (or an interval, for trying it out)."""
    if not os.environ.get("PREFECT_API_URL"):
        raise SystemExit(
            "pipeline.serve: set PREFECT_API_URL to a running server "
            "(prefect server start --host 127.0.0.1; export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api): the ephemeral server schedules nothing"
        )
    schedule = {"interval": interval_seconds} if interval_seconds else {"cron": cron}
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
