"""The imports a Python file makes, read with `ast` (nothing is imported or run).

The dependency tests use it: dvc.yaml's deps against what each stage runs, stage modules not
importing each other, test modules importing only helpers. Imports inside functions count
(that is how stages import heavy libraries lazily); imports under `if TYPE_CHECKING:` do not
(they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One imported name: `import module`, `from module import names`, or
    `importlib.import_module(f"module.{...}")` (then `any_submodule`: whichever module of the
    package the runtime value names)."""

    module: str
    names: tuple[str, ...] = ()
    line: int = 0
    any_submodule: bool = False


def file_imports(path: Path, package: str = "", top_level_only: bool = False) -> list[Import]:
    """Every import in `path`; `package` (the file's own package, dotted) resolves relative
    imports. `top_level_only` skips function bodies: what importing the module runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    collector = _Collector(package, top_level_only)
    collector.visit(tree)
    return collector.found


@dataclass(frozen=True)
class SourceTree:
    """The modules of one folder on `sys.path` (e.g. `src`), by dotted name."""

    root: Path

    def file(self, module: str) -> Path | None:
        """The file that defines `module` in this tree, or None (a library, a missing name)."""
        base = self.root.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def package(self, module: str) -> str:
        """The package relative imports in `module` start from."""
        is_package = self.file(module) == self.root.joinpath(*module.split("."), "__init__.py")
        return module if is_package else module.rpartition(".")[0]

    def imports(self, module: str, top_level_only: bool = False) -> list[Import]:
        return file_imports(self.file(module), self.package(module), top_level_only)

    def targets(self, found: Import) -> set[str]:
        """The modules of this tree that one import runs: the module, its parent packages, and
        each imported name that is a submodule."""
        names = [found.module, *(f"{found.module}.{name}" for name in found.names)]
        if found.any_submodule and (folder := self.root.joinpath(*found.module.split("."))):
            names += [f"{found.module}.{path.stem}" for path in folder.glob("*.py")]
            names = [name for name in names if not name.endswith(".__init__")]
        run = set()
        for name in names:
            if self.file(name) is not None:
                parts = name.split(".")
                run.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
        return {name for name in run if self.file(name) is not None}

    def closure(
        self,
        entries: Iterable[str],
        top_level_only: Iterable[str] = (),
        not_followed: Iterable[tuple[str, str]] = (),
    ) -> set[str]:
        """Every module of this tree that importing `entries` can run, following imports in
        function bodies too, except in the modules named in `top_level_only`, and except the
        (importer, imported) pairs in `not_followed`."""
        shallow, skipped = set(top_level_only), set(not_followed)
        seen: set[str] = set()
        pending = [name for entry in entries for name in self.targets(Import(entry))]
        while pending:
            module = pending.pop()
            if module in seen:
                continue
            seen.add(module)
            for found in self.imports(module, top_level_only=module in shallow):
                pending.extend(
                    name for name in self.targets(found) - seen if (module, name) not in skipped
                )
        return seen


def is_re_export_only(path: Path) -> bool:
    """A package `__init__.py` holding nothing but a docstring, imports and `__all__`: changing
    it changes no behaviour beyond what the modules it imports do."""
    for statement in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        if isinstance(statement, ast.Assign | ast.AnnAssign) and _assigns_all(statement):
            continue
        return False
    return True


def _assigns_all(statement: ast.Assign | ast.AnnAssign) -> bool:
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    return all(isinstance(target, ast.Name) and target.id == "__all__" for target in targets)


class _Collector(ast.NodeVisitor):
    def __init__(self, package: str, top_level_only: bool) -> None:
        self.package = package
        self.top_level_only = top_level_only
        self.found: list[Import] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.found.extend(Import(alias.name, (), node.lineno) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:  # relative: strip level-1 trailing parts of the file's own package
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            module = f"{base}.{module}" if module else base
        names = tuple(alias.name for alias in node.names if alias.name != "*")
        self.found.append(Import(module, names, node.lineno))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if not self.top_level_only:
            self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        if not self.top_level_only:
            self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name == "import_module" and node.args:
            self._dynamic_import(node.args[0], node.lineno)
        self.generic_visit(node)

    def _dynamic_import(self, argument: ast.expr, line: int) -> None:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            self.found.append(Import(argument.value, (), line))
        elif isinstance(argument, ast.JoinedStr) and argument.values:
            head = argument.values[0]
            if isinstance(head, ast.Constant) and str(head.value).endswith("."):
                self.found.append(Import(str(head.value)[:-1], (), line, any_submodule=True))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
