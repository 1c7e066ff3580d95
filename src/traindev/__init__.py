"""traindev: the practice of "Structuring Machine Learning Projects" as a reproducible pipeline."""

import os

# Quiet and offline by default: these tools otherwise phone home on import or per command.
# setdefault, so a user who wants telemetry or update checks can still opt in.
for _name, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "NO_ALBUMENTATIONS_UPDATE": "1",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GIT_PYTHON_REFRESH": "quiet",
    # OpenMP threads that spin while waiting turn a busy machine into a 50x slowdown
    # (measured: LeNet-5 step 9 ms -> 460 ms with one core taken); passive waiting costs
    # nothing measurable when the machine is idle. Read when torch loads, so set it first.
    "OMP_WAIT_POLICY": "PASSIVE",
}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
