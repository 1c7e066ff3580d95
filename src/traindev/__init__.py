"""traindev: the practice of "Structuring Machine Learning Projects" as a reproducible pipeline."""

import os

# Quiet and offline by default: these tools otherwise phone home on import or per command.
# setdefault, so a user who wants telemetry or update checks can still opt in.
for _name, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "NO_ALBUMENTATIONS_UPDATE": "1",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",  # Prefect's client-side SDK telemetry (and other tools that honour it)
    "GIT_PYTHON_REFRESH": "quiet",
}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
