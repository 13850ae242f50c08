"""Sphinx configuration of the stilt documentation (build: sphinx-build -W -b html docs OUT)."""

from __future__ import annotations

from typing import Any

from stilt._version import get_version

project = "stilt"
author = "the stilt developers"
copyright = "the stilt developers"  # noqa: A001 - Sphinx's name
release = version = get_version()

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "scripts", "_static", "README.md"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"description": "Stochastic Time-Inverted Lagrangian Transport"}

#: the page whose marker is replaced by the reference generated from the config schema
CONFIG_PAGE = "configuration"
CONFIG_MARKER = "<!-- stilt-config-reference -->"


def _insert_config_reference(app: Any, docname: str, source: list[str]) -> None:
    if docname != CONFIG_PAGE:
        return
    from stilt._docs import config_reference_markdown

    if CONFIG_MARKER not in source[0]:
        raise RuntimeError(f"{docname}: the marker {CONFIG_MARKER} is missing")
    source[0] = source[0].replace(CONFIG_MARKER, config_reference_markdown())


def _always_regenerate(app: Any, env: Any, added: set[str], changed: set[str],
                       removed: set[str]) -> list[str]:
    # the schema lives in Python, not in the page: re-read the page on every build
    return [CONFIG_PAGE] if CONFIG_PAGE in env.found_docs else []


def setup(app: Any) -> dict[str, Any]:
    """Generate the configuration reference from the schema on every build."""
    app.connect("source-read", _insert_config_reference)
    app.connect("env-get-outdated", _always_regenerate)
    return {"parallel_read_safe": True}
