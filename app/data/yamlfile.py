"""Read a YAML file keeping the line of every value, for error messages that point at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class InvalidDate:
    """A value YAML reads as a date but that is no day of the calendar (``2026-13-45``)."""

    text: str


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, keeping an impossible date as a value the validation reports.

    The safe constructor raises a bare ValueError for ``due: 2026-13-45``, with neither the
    line nor the field; kept as ``InvalidDate``, it is reported like any other error.
    """


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return InvalidDate(str(node.value))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


@dataclass
class SchoolFileError(Exception):
    """The school data file is invalid; each message names the file, line and field."""

    messages: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.messages)


def format_path(path: Path) -> str:
    """Write a field path the way a person reads it: ``students[3].framework``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(racine)"


@dataclass
class LocatedDocument:
    """A parsed YAML document and the line where each of its values starts."""

    filename: str
    data: Any
    lines: dict[Path, int]
    duplicate_keys: list[tuple[Path, int]]

    def line(self, path: Path) -> int:
        """Return the line of a value, or of its nearest enclosing value."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: Path, message: str) -> str:
        """Format an error about the value at ``path``."""
        return f"{self.filename}:{self.line(path)}: {format_path(path)} : {message}"


def _walk(
    node: yaml.Node, path: Path, lines: dict[Path, int], dups: list[tuple[Path, int]]
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                dups.append(((*path, key), key_node.start_mark.line + 1))
            seen.add(key)
            _walk(value_node, (*path, key), lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, dups)


def load_located(text: str, filename: str) -> LocatedDocument:
    """Parse YAML text; raise SchoolFileError with the line of any syntax error."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise SchoolFileError([f"{filename}:{line}: YAML invalide : {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise SchoolFileError([f"{filename}:1: YAML invalide : {exc}"]) from exc
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise SchoolFileError([f"{filename}:1: valeur invalide ({type(exc).__name__})"]) from exc
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[Path, int] = {}
    dups: list[tuple[Path, int]] = []
    if node is not None:
        _walk(node, (), lines, dups)
    return LocatedDocument(filename, data, lines, dups)
