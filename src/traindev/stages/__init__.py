"""One module per DVC stage: the I/O shell around the library's pure functions.

Each `run` takes the validated params and touches only the paths in `traindev.paths`
that dvc.yaml declares for that stage.
"""
