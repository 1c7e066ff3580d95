"""The Jinja2 environments the report and the error-analysis sheets render with.

Templates ship inside the package (`traindev/reporting/templates/`, package data) and are
loaded through the package, never from the working directory, so a stage run from anywhere
renders the same pages. Two environments, because the two formats escape differently:

- HTML: autoescape on (`select_autoescape`), so every value from an input file is escaped
  unless a template says otherwise; CSS lives in `templates/static/` and is inlined.
- Markdown: no HTML escaping; templates pass every value through the explicit `md` filter,
  which backslash-escapes Markdown punctuation.

Both use StrictUndefined (a misspelt name fails the render instead of printing nothing) and
trim block tags' newlines, so the templates can be laid out readably.

This module imports nothing heavy: the analyze stage renders its sheet page with it.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from typing import Any, NoReturn

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

TEMPLATE_PACKAGE = ("traindev.reporting", "templates")

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
_BLANK_RUNS = re.compile(r"\n{3,}")


def md_escape(text: Any) -> str:
    """Backslash-escape Markdown punctuation and fold newlines, so text stays literal."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def png_data_uri(png: bytes) -> str:
    """A PNG as a data: URI, so the HTML page embeds its images and opens offline."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def kind(value: object) -> str:
    """The class name of a value: what a template's `block` macro dispatches on."""
    return type(value).__name__


def fail(message: str) -> NoReturn:
    """Raise from a template (e.g. a block type no macro knows)."""
    raise TypeError(message)


def _environment(**options: Any) -> Environment:
    env = Environment(
        loader=PackageLoader(*TEMPLATE_PACKAGE),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        **options,
    )
    env.filters.update(kind=kind, data_uri=png_data_uri)
    env.globals.update(fail=fail)
    return env


@cache
def html_environment() -> Environment:
    """Autoescaping environment for the `.html` pages (and the CSS they inline)."""
    return _environment(autoescape=select_autoescape(["html"], default=True))


@cache
def markdown_environment() -> Environment:
    """Environment for the `.md` pages: no HTML escaping, an `md` filter instead."""
    env = _environment(autoescape=False)
    env.filters["md"] = md_escape
    return env


def render_html(template: str, **context: Any) -> str:
    return html_environment().get_template(template).render(**context)


def render_markdown(template: str, **context: Any) -> str:
    """A Markdown page; blank-line runs left by empty sections are folded into one."""
    text = markdown_environment().get_template(template).render(**context)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"
