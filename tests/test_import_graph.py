"""The static import reader behind the dependency tests: it must see every import that runs
(in functions, relative, through importlib) and none that never runs (TYPE_CHECKING)."""

from __future__ import annotations

from pathlib import Path

from helpers.import_graph import SourceTree, is_re_export_only


def write(root: Path, files: dict[str, str]) -> SourceTree:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return SourceTree(root)


def test_imports_in_functions_relative_and_through_importlib_are_followed(tmp_path):
    tree = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/entry.py": "from pkg import lazy\n\ndef run():\n    from .deep import thing\n",
            "pkg/lazy.py": "import importlib\nimportlib.import_module('pkg.named')\n",
            "pkg/deep.py": (
                "import importlib\n\ndef f(x):\n    importlib.import_module(f'pkg.family.{x}')\n"
            ),
            "pkg/named.py": "import numpy\n",
            "pkg/family/__init__.py": "",
            "pkg/family/one.py": "",
            "pkg/family/two.py": "",
            "pkg/unused.py": "",
        },
    )
    assert tree.closure(["pkg.entry"]) == {
        "pkg",
        "pkg.entry",
        "pkg.lazy",
        "pkg.deep",
        "pkg.named",
        "pkg.family",
        "pkg.family.one",
        "pkg.family.two",
    }


def test_type_checking_imports_are_not_followed_but_its_else_branch_is(tmp_path):
    tree = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg import b\nelse:\n    from pkg import c\n"
            ),
            "pkg/b.py": "",
            "pkg/c.py": "",
        },
    )
    assert tree.closure(["pkg.a"]) == {"pkg", "pkg.a", "pkg.c"}


def test_top_level_only_and_not_followed_cut_the_graph_where_asked(tmp_path):
    tree = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/cli.py": "from pkg import config\n\ndef main():\n    from pkg import fetch\n",
            "pkg/config.py": "def check():\n    from pkg import heavy\n",
            "pkg/fetch.py": "",
            "pkg/heavy.py": "",
        },
    )
    assert tree.closure(["pkg.cli"]) == {"pkg", "pkg.cli", "pkg.config", "pkg.fetch", "pkg.heavy"}
    assert tree.closure(
        ["pkg.cli"], top_level_only=["pkg.cli"], not_followed=[("pkg.config", "pkg.heavy")]
    ) == {"pkg", "pkg.cli", "pkg.config"}


def test_an_init_with_code_is_not_a_re_export(tmp_path):
    write(
        tmp_path,
        {
            "quiet/__init__.py": '"""Doc."""\nfrom quiet.a import x\n__all__ = ["x"]\n',
            "busy/__init__.py": "import os\nos.environ.setdefault('A', '1')\n",
        },
    )
    assert is_re_export_only(tmp_path / "quiet" / "__init__.py")
    assert not is_re_export_only(tmp_path / "busy" / "__init__.py")
