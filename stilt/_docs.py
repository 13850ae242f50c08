"""The configuration reference, generated from the config schema (used by the Sphinx build).

Every key of ``config.yaml`` is described once, where it is validated: the signature and
numpydoc docstring of :class:`stilt.config.ModelConfig`, the dataclass fields and docstrings of
:class:`~stilt.config.ExecutionConfig`, :class:`~stilt.config.FootprintConfig` and
:class:`~stilt.met.discovery.MetConfig`, and the transport parameter table
:data:`stilt.params.PARAMETERS`. :func:`config_reference_markdown` turns them into the Markdown
of the reference page at docs build time, so the page cannot drift from the code. Classes are
looked up on their modules at call time.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

__all__ = ["config_reference_markdown", "docstring_parameters", "UNDOCUMENTED"]

#: what the reference shows for a key whose class docstring does not describe it
UNDOCUMENTED = "(not described in the docstring)"

_HEADER = re.compile(r"^(\s*)Parameters\s*\n\1-{3,}\s*\n", re.M)
_ENTRY = re.compile(r"^([A-Za-z_*][\w*]*(?:\s*,\s*[A-Za-z_*][\w*]*)*)\s*(?::\s*(.*))?$")


def docstring_parameters(obj: Any) -> dict[str, tuple[str, str]]:
    """The numpydoc ``Parameters`` section of ``obj``'s docstring.

    Parameters
    ----------
    obj : object
        A class or function with a numpydoc docstring.

    Returns
    -------
    dict
        Parameter name to ``(type, description)``; ``a, b : int`` gives both names the same
        entry, and ``**params`` is keyed ``params``.
    """
    doc = inspect.getdoc(obj) or ""
    match = _HEADER.search(doc)
    if not match:
        return {}
    out: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    kind, text = "", []
    lines = doc[match.end():].splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if line.startswith((" ", "\t")):
            text.append(line.strip())
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        entry = _ENTRY.match(line.strip())
        if entry is None or re.match(r"^\s*-{3,}\s*$", following):
            break  # the next section (its title and underline)
        for name in names:
            out[name.lstrip("*")] = (kind, " ".join(text))
        names = [n.strip() for n in entry.group(1).split(",")]
        kind, text = (entry.group(2) or "").strip(), []
    for name in names:
        out[name.lstrip("*")] = (kind, " ".join(text))
    return out


def _cell(text: Any) -> str:
    """Markdown table cell text (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return "`[" + ", ".join(map(str, value)) + "]`"
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    return f"`{value}`"


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _described(docs: dict[str, tuple[str, str]], name: str) -> tuple[str, str]:
    kind, text = docs.get(name, ("", ""))
    return kind, text or UNDOCUMENTED


def _dataclass_rows(cls: Any, skip: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    docs = docstring_parameters(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.default is not dataclasses.MISSING:
            default = _code(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = _code(f.default_factory())
        else:
            default = "required"
        kind, text = _described(docs, f.name)
        rows.append((f"`{f.name}`", kind, default, text))
    return rows


def _model_rows() -> list[tuple[str, ...]]:
    from stilt import config

    docs = docstring_parameters(config.ModelConfig)
    rows = []
    for p in inspect.signature(config.ModelConfig.__init__).parameters.values():
        if p.name == "self" or p.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        default = "required" if p.default is inspect.Parameter.empty else _code(p.default)
        if p.name in ("mets", "footprints", "execution") and p.default is None:
            default = "none" if p.name != "execution" else "see below"
        kind, text = _described(docs, p.name)
        rows.append((f"`{p.name}`", kind, default, text))
    return rows


def _range(p: Any) -> str:
    if p.choices is not None:
        return ", ".join(_code(c) for c in p.choices)
    lo = "" if p.minimum is None else f"{p.minimum:g}"
    hi = "" if p.maximum is None else f"{p.maximum:g}"
    if not lo and not hi:
        return ""
    return f"{lo} .. {hi}"


def _param_rows(used: bool) -> list[tuple[str, ...]]:
    from stilt import params

    rows = []
    for p in params.PARAMETERS.values():
        if p.used != used or p.name in ("n_hours", "numpar", "seed"):
            continue
        rows.append((f"`{p.name}`", p.kind.__name__, _code(p.default), p.units, _range(p),
                     p.description))
    return rows


def config_reference_markdown() -> str:
    """The Markdown of the configuration reference, from the schema as it is now.

    Returns
    -------
    str
        Sections for the top-level keys, ``execution``, ``footprints.<name>``, ``mets.<name>``
        and the transport parameters (used, and accepted for compatibility only).
    """
    from stilt import config, params
    from stilt.footprint_grid import GRID_KEYS
    from stilt.met import discovery

    backends = ", ".join(f"`{b}`" for b in getattr(config, "_BACKENDS", ())) or "see below"
    head = ("key", "type", "default", "meaning")
    grid_keys = ", ".join(f"`{k}`" for k in GRID_KEYS)
    parts = [
        "## Top-level keys\n",
        "Keys of `config.yaml` itself (the arguments of `stilt.ModelConfig`). Transport "
        "parameters (below) go at this level too.\n",
        _table(_model_rows(), head),
        "\n## `execution`\n",
        f"How and where simulations run (`stilt.ExecutionConfig`). Backends available in this "
        f"build: {backends}.\n",
        _table(_dataclass_rows(config.ExecutionConfig), head),
        "\n## `footprints.<name>`\n",
        f"One entry per named footprint (`stilt.FootprintConfig`). `grid` holds {grid_keys} "
        "(`projection` defaults to `+proj=longlat`; resolutions in the grid's units): a "
        "`stilt.Grid`, the type `calc_footprint` takes, checked and counted the same way.\n",
        _table(_dataclass_rows(config.FootprintConfig), head),
        "\n## `mets.<name>`\n",
        "One entry per named met source (`stilt.MetConfig`); names may not contain `_`. "
        "A relative `directory` is relative to the project folder.\n",
        _table(_dataclass_rows(discovery.MetConfig, skip=("time_lister",)), head),
        "\n## Transport parameters\n",
        "Flat at the top level, by their lower-case HYSPLIT-STILT names (`stilt.params."
        "PARAMETERS`); defaults are R-STILT's. `n_hours` and `numpar` are listed with the "
        "top-level keys.\n",
        _table(_param_rows(True), ("key", "type", "default", "units", "allowed", "meaning")),
        "\n### Accepted for compatibility, no effect\n",
        "These HYSPLIT namelist keys are validated and recorded so that existing SETUP.CFG "
        "files keep working, but stilt's STILT mode does not use them.\n",
        _table(_param_rows(False), ("key", "type", "default", "units", "allowed", "meaning")),
        f"\nValid `varsiwant` columns: {', '.join(f'`{c}`' for c in params.VALID_VARSIWANT)}.\n",
    ]
    return "\n".join(parts)
