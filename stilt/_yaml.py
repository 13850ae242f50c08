"""A strict YAML loader for config.yaml: safe types only, no duplicate keys, bounded aliases.

``yaml.safe_load`` builds only plain types, but it accepts a key given twice in one mapping
(the last one silently wins) and anchors/aliases that expand to far more data than the file
holds (a 1 kB "billion laughs" document of nested aliases becomes gigabytes once anything walks
or prints it). :func:`load_yaml` refuses both, naming the file and line, before any Python
value is built; its messages never print the offending value itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stilt.errors import ConfigError, not_utf8, short_repr

__all__ = ["load_yaml", "read_yaml", "MAX_ALIAS_NODES"]

#: how many nodes the aliases of a document may add once expanded (a document without
#: aliases is bounded by its own size)
MAX_ALIAS_NODES = 10_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing a key given twice in one mapping."""

    where = "YAML"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeConstructor reports it below
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                raise ConfigError(f"{self.where} line {line}: duplicate key {short_repr(key)} "
                                  f"(first given at line {first}); give each key once")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node, where: str) -> tuple[int, int]:
    """Nodes of the document as written (unique) and once every alias is expanded."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(f"{where} line {node.start_mark.line + 1}: an alias refers to "
                              "the value that contains it (recursive anchor)")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = total
        return total

    expanded = size(root)
    return len(sizes), expanded


def load_yaml(text: str, where: str = "YAML") -> Any:
    """Parse one YAML document strictly.

    Parameters
    ----------
    text : str
        The document.
    where : str, optional
        What it is, for messages (e.g. ``"config file /p/config.yaml"``).

    Returns
    -------
    The plain Python value (dict, list, str, int, float, bool, None, date).

    Raises
    ------
    ConfigError
        Not valid YAML, a duplicate key, a recursive anchor, or aliases adding more than
        :data:`MAX_ALIAS_NODES` nodes.
    """
    loader = _StrictLoader(text)
    loader.where = where
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        unique, expanded = _expanded_size(node, where)
        if expanded - unique > MAX_ALIAS_NODES:
            raise ConfigError(
                f"{where}: its aliases (*name) expand to {expanded} values from {unique} "
                f"written; at most {MAX_ALIAS_NODES} more are allowed (write the values out, "
                "or use fewer aliases)")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({_yaml_problem(exc)})") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line from a PyYAML error: the problem and where."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        return f"line {mark.line + 1} column {mark.column + 1}: {what}" if mark else what
    return short_repr(str(exc), 200).strip("'\"")


def read_yaml(path: str | Path, where: str | None = None) -> Any:
    """Read and parse a YAML file with :func:`load_yaml` (UTF-8)."""
    path = Path(path)
    where = where or f"YAML file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise not_utf8(path, where) from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be read ({exc.strerror})") from None
    return load_yaml(text, where)
