"""Test modules import helpers (tests/helpers) and fixtures (conftest.py), never each other: a
test module is collected and run by pytest, and importing one runs its module-level code (and
its tests' names) a second time, where no reader looks for a helper."""

from __future__ import annotations

from pathlib import Path

from helpers.import_graph import file_imports
from helpers.repository import PROJECT_ROOT

TESTS = PROJECT_ROOT / "tests"

# Test-tree modules that test modules may still import, each with its reason.
ALLOWED: dict[str, str] = {}  # test module -> why another may import it (none now)


def tree_module(name: str, importer: Path, tests: Path) -> Path | None:
    """The file under `tests` that `import name` in `importer` loads, if any: pytest puts
    `tests` on sys.path (pyproject's pythonpath) and each test file's own folder too."""
    for base in (tests, importer.parent):
        candidate = base.joinpath(*name.split("."))
        for file in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if file.is_file():
                return file
    return None


def imported_test_modules(tests: Path, allowed: set[str]) -> dict[str, list[str]]:
    """For each file under `tests`, the test-tree modules it imports other than helpers,
    conftest.py files and `allowed` (paths relative to `tests`)."""
    helpers = tests / "helpers"
    offenders: dict[str, list[str]] = {}
    for importer in sorted(tests.rglob("*.py")):
        found = set()
        for imported in file_imports(importer):
            names = [imported.module, *(f"{imported.module}.{n}" for n in imported.names)]
            for name in names:
                file = tree_module(name, importer, tests)
                if file is None or file == importer or file.name == "conftest.py":
                    continue
                if helpers in file.parents or str(file.relative_to(tests)) in allowed:
                    continue
                found.add(f"{file.relative_to(tests)} (line {imported.line})")
        if found:
            offenders[str(importer.relative_to(tests))] = sorted(found)
    return offenders


def test_no_test_module_imports_another():
    offenders = imported_test_modules(TESTS, set(ALLOWED))
    assert not offenders, (
        "a test module imports another test module: move what they share into a module of "
        f"tests/helpers (fixtures into a conftest.py): {offenders}"
    )


def test_every_allowed_import_is_still_there():
    for relative in ALLOWED:
        assert (TESTS / relative).is_file(), f"{relative} is gone: delete its ALLOWED entry"


def test_the_check_finds_a_test_module_imported_by_name_or_by_package(tmp_path):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "shared.py").write_text("X = 1\n")
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "test_a.py").write_text("from helpers.shared import X\n")
    (tmp_path / "training" / "test_b.py").write_text(
        "def test_b():\n    from test_a import X\n"  # the test file's own folder, in a function
    )
    (tmp_path / "test_c.py").write_text("from training import test_a\nimport conftest\n")
    (tmp_path / "conftest.py").write_text("")
    assert imported_test_modules(tmp_path, set()) == {
        "test_c.py": ["training/test_a.py (line 1)"],
        "training/test_b.py": ["training/test_a.py (line 2)"],
    }
    assert imported_test_modules(tmp_path, {"training/test_a.py"}) == {}
