"""Stage modules are shells only the CLI loads: no module imports a stage module, so running one
stage never loads another's code (analyze used to load the whole trainer to learn a file name;
shared names live in traindev.paths)."""

from __future__ import annotations

from helpers.import_graph import SourceTree
from helpers.repository import PROJECT_ROOT

SOURCE = SourceTree(PROJECT_ROOT / "src")
STAGES = "traindev.stages"


def modules() -> list[str]:
    package = PROJECT_ROOT / "src" / "traindev"
    names = (
        path.relative_to(package.parent).with_suffix("").parts for path in package.rglob("*.py")
    )
    return sorted(".".join(parts).removesuffix(".__init__") for parts in names)


def test_the_stage_package_holds_the_stages():
    assert f"{STAGES}.train" in modules()  # else this file checks nothing


def test_only_the_cli_imports_stage_modules():
    offenders = {}
    for module in modules():
        if module == "traindev.cli":  # dispatch: `traindev <stage>` imports the stage it runs
            continue
        imported = {
            f"{name} (line {found.line})"
            for found in SOURCE.imports(module)
            for name in SOURCE.targets(found)
            if name.startswith(f"{STAGES}.") and name != module
        }
        if imported:
            offenders[module] = sorted(imported)
    assert not offenders, (
        "stage modules import no other stage module (and nothing but the CLI imports one); "
        f"move what they share into traindev.paths or a library module: {offenders}"
    )
