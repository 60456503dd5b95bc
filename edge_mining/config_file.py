"""Reading a configuration file as hostile input: every way it can be wrong is one line.

A configuration path may name anything: a FIFO (reading it would hang), ``/dev/zero`` (it
never ends), a binary or a huge file, YAML nested thousands of levels deep or an alias bomb.
``read_config_text`` and ``parse_yaml`` turn each of these into a ``ConfigFileError`` whose
message is one line, and never quote a value of the document: an unquoted password that
starts with ``*`` or ``!`` is read by YAML as an alias or a tag, and PyYAML's own message
would echo it.

- the file: a regular file, opened without blocking, at most MAX_CONFIG_BYTES, UTF-8 text;
- the YAML: PyYAML's safe loader, plus: a key twice in one mapping is an error (YAML says
  keys are unique; PyYAML keeps the last one silently), nesting at most MAX_DEPTH levels,
  at most MAX_VALUES values once aliases are expanded;
- the JSON (the add-on's options.json): the same limits.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: a site file is a few kilobytes
MAX_DEPTH = 64  # the configuration itself is 4 levels deep
MAX_VALUES = 100_000  # values after alias expansion: a site has a few hundred

_MERGE_TAG = "tag:yaml.org,2002:merge"


class ConfigFileError(Exception):
    """The file cannot be a configuration: ``str(error)`` is one line, without the path."""


# ---------------------------------------------------------------------------------- file


def read_config_text(path: Path, *, limit: int = MAX_CONFIG_BYTES) -> str:
    """The text of ``path``: a regular file of at most ``limit`` bytes of UTF-8."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as error:
        raise ConfigFileError(f"cannot read: {error.strerror or error}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigFileError(f"not a regular file ({_file_kind(mode)}): name a YAML file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise ConfigFileError(f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise ConfigFileError(
            f"larger than {_size(limit)}: a configuration file is a few kilobytes"
        )
    data = b"".join(chunks)
    if b"\0" in data:
        raise ConfigFileError("binary data (NUL bytes): not a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigFileError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"


# ---------------------------------------------------------------------------------- YAML


class _OwnProblem(yaml.MarkedYAMLError):
    """A limit of ours, whose message is ours (PyYAML's may quote the document)."""


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # The composer recurses once per level: bound it before Python's recursion limit.
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _OwnProblem(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            self._refuse_duplicate_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _refuse_duplicate_keys(self, node: yaml.MappingNode) -> None:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise _OwnProblem(
                    None,
                    None,
                    f"key {_key_text(key)} appears twice in one mapping "
                    f"(first at line {first_line[key]})",
                    key_node.start_mark,
                )
            first_line[key] = line


def _key_text(key: Any) -> str:
    # Keys are field names; a long one is cut, so the line stays a line.
    text = repr(key)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_yaml(text: str) -> Any:
    """The document in ``text``. ConfigFileError, never quoting the document, when it is not
    valid YAML or breaks the limits above."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ConfigFileError(_describe_yaml_error(error)) from None
    except RecursionError:  # pragma: no cover - the depth bound comes first
        raise ConfigFileError(f"nested deeper than {MAX_DEPTH} levels") from None
    _check_size(data)
    return data


def parse_json(text: str) -> Any:
    """The JSON document in ``text``, with the same limits (duplicate keys, depth, size)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as error:
        raise ConfigFileError(f"invalid JSON at line {error.lineno}: {error.msg}") from None
    except RecursionError:
        raise ConfigFileError(f"nested deeper than {MAX_DEPTH} levels") from None
    _check_size(data)
    return data


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ConfigFileError(f"key {_key_text(key)} appears twice in one object")
        result[key] = value
    return result


def _check_size(data: Any) -> None:
    """Refuse documents deeper than MAX_DEPTH or with more than MAX_VALUES values, counting a
    value reached through several aliases each time (an alias bomb is small on disk)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    values = 0
    while stack:
        item, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise ConfigFileError(
                f"more than {MAX_VALUES} values once aliases are expanded: not a configuration"
            )
        if depth > MAX_DEPTH:
            raise ConfigFileError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for pair in item.items() for child in pair)
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


# A quoted part of a PyYAML message is text from the document, except token names such as
# '<block end>' and the punctuation of the syntax (expected ',' or ']').
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SYNTAX = re.compile(r"""^['"](<[a-z ]+>|[^\w\s'"])['"]$""")


def _without_document_text(message: str) -> str:
    return _QUOTED.sub(
        lambda quoted: quoted.group() if _SYNTAX.match(quoted.group()) else "a value", message
    )


def _describe_yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    if isinstance(error, yaml.reader.ReaderError):
        return f"a control character (#x{error.character:04x}) at offset {error.position}"
    problem = str(getattr(error, "problem", None) or "invalid YAML")
    if isinstance(error, _OwnProblem):
        pass
    elif problem.startswith("found undefined alias"):
        problem = "a value starts with '*', which YAML reads as an alias: put it in quotes"
    elif problem.startswith("could not determine a constructor for the tag"):
        problem = "a value starts with '!', which YAML reads as a tag: put it in quotes"
    elif problem.startswith("found character") and "cannot start any token" in problem:
        if "'\\t'" in problem:
            problem = "a tab where YAML expects spaces"
        else:
            problem = "a value starts with a character YAML reserves (@ or `): put it in quotes"
    else:
        context = getattr(error, "context", None)
        problem = _without_document_text(f"{context}: {problem}" if context else problem)
    return f"{problem}{where}"
