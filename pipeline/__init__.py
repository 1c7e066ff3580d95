"""Prefect orchestration over the DVC stages. No ML logic lives here: every task runs
`dvc repro` for one stage, and DVC decides whether that stage is up to date."""
