"""The repository under test: every path a test reads from the checkout starts here."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
