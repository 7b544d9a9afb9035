"""Load YAML 1.2 and JSON files into plain Python data, remembering where every value came from.

Rules kept here, for every YAML or JSON input flowengine reads (flows, scenarios, test files):
  * YAML 1.2 core schema (ruamel.yaml): `yes/no/on/off` stay strings; timestamps stay strings
    (an unquoted date is kept as the text the author wrote).
  * Duplicate keys are errors. Unknown tags are errors (nothing is ever instantiated from a tag).
  * Limits: input size, nesting depth, and the number of nodes after alias expansion (so an
    alias "billion laughs" is refused instead of exploding).
  * Every value's line and column are kept in `Document.positions`, keyed by the path of keys and
    indexes leading to it, so later checks (schemas, compilers) can point at the author's line.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from .diagnostics import Diagnostic, Span
from .errors import FlowError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000

Path_ = tuple  # a path of dict keys and list indexes


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps timestamps as the author's text."""


_Constructor.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda self, node: self.construct_scalar(node)
)


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


@dataclass
class Document:
    """Plain data loaded from a file, with the position of every value and mapping key."""

    filename: str
    text: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def span(self, path: Path_ = (), *, key: bool = False) -> Span:
        """The span of the value at `path` (or of its key), else of its nearest known ancestor."""
        path = tuple(path)
        if key and path in self.key_positions:
            line, col = self.key_positions[path]
            return Span(self.filename, line, col)
        while True:
            if path in self.positions:
                line, col = self.positions[path]
                return Span(self.filename, line, col)
            if path in self.key_positions:
                line, col = self.key_positions[path]
                return Span(self.filename, line, col)
            if not path:
                return Span(self.filename, 1, 1)
            path = path[:-1]


def read_text(path: str | Path, *, max_bytes: int = MAX_BYTES, error_cls: type = FlowError) -> str:
    """Read a UTF-8 text file with a size limit; problems become one diagnostic."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise error_cls([Diagnostic("E_IO", "file not found", file=name)]) from None
    except IsADirectoryError:
        raise error_cls([Diagnostic("E_IO", "is a directory, not a file", file=name)]) from None
    except OSError as exc:
        raise error_cls([Diagnostic("E_IO", f"cannot read file: {exc.strerror}", file=name)]) from None
    if len(raw) > max_bytes:
        raise error_cls(
            [Diagnostic("E_TOO_LARGE", f"file is larger than the {max_bytes} byte limit", file=name)]
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error_cls(
            [Diagnostic("E_ENCODING", f"not valid UTF-8 (byte {exc.start})", Span(name, 1, 1))]
        ) from None


def load(
    text: str,
    filename: str,
    *,
    json_only: bool = False,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    error_cls: type = FlowError,
) -> Document:
    """Parse YAML 1.2 (or strict JSON when `json_only`) into a `Document`, or raise `error_cls`."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise error_cls(
            [Diagnostic("E_TOO_LARGE", f"input is larger than the {max_bytes} byte limit", Span(filename))]
        )
    if json_only:
        return _load_json(text, filename, max_depth, error_cls)
    try:
        tree = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(problem) or "duplicate key" in str(exc):
            code = "E_DUPLICATE_KEY"
            problem = _duplicate_message(exc)
        else:
            code = "E_YAML" if not json_only else "E_JSON"
        raise error_cls([Diagnostic(code, problem, Span(filename, line, col))]) from None
    except YAMLError as exc:
        raise error_cls([Diagnostic("E_YAML", str(exc).splitlines()[0], Span(filename))]) from None
    except RecursionError:
        raise error_cls(
            [Diagnostic("E_TOO_DEEP", f"nesting deeper than {max_depth} levels", Span(filename))]
        ) from None
    doc = Document(filename, text, None)
    converter = _Converter(doc, max_depth, max_nodes, error_cls)
    doc.data = converter.convert(tree, (), 1)
    return doc


def load_file(path: str | Path, *, error_cls: type = FlowError, **limits: Any) -> Document:
    """Read and parse a YAML or JSON file (JSON strictness for `*.json`)."""
    text = read_text(path, error_cls=error_cls, max_bytes=limits.get("max_bytes", MAX_BYTES))
    return load(text, str(path), json_only=str(path).endswith(".json"), error_cls=error_cls, **limits)


def _duplicate_message(exc: MarkedYAMLError) -> str:
    problem = str(exc.problem or "")
    # ruamel: 'found duplicate key "a" with value "2" (original value: "1")'
    if "found duplicate key" in problem:
        return problem.split(" with value")[0].replace("found duplicate key", "duplicate key")
    return "duplicate key"


def _load_json(text: str, filename: str, max_depth: int, error_cls: type) -> Document:
    """Strict JSON (the standard library's parser), with positions from a fast token scan."""

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        data = json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise error_cls([Diagnostic("E_JSON", exc.msg, Span(filename, exc.lineno, exc.colno))]) from None
    except ValueError as exc:
        raise error_cls([Diagnostic("E_JSON", str(exc), Span(filename))]) from None
    except RecursionError:
        raise error_cls([Diagnostic("E_TOO_DEEP", "nesting too deep", Span(filename))]) from None
    doc = Document(filename, text, data)
    _JsonPositions(doc, max_depth, error_cls).scan()
    return doc


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


class _JsonPositions:
    """Record where every key and value of a (valid) JSON text starts; catch duplicate keys and depth.

    One pass over tokens found by a regular expression, so it stays fast on large flows (ruamel, which
    gives positions for YAML, is far slower on big JSON files)."""

    def __init__(self, doc: Document, max_depth: int, error_cls: type):
        self.doc = doc
        self.max_depth = max_depth
        self.error_cls = error_cls
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", doc.text)]

    def where(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def fail(self, code: str, message: str, offset: int) -> None:
        line, col = self.where(offset)
        raise self.error_cls([Diagnostic(code, message, Span(self.doc.filename, line, col))])

    def scan(self) -> None:
        positions, key_positions = {}, {}
        # a frame: [path, is_object, current key or index, keys seen, expecting a key]
        stack: list[list] = []
        path: tuple = ()
        for match in _JSON_TOKEN.finditer(self.doc.text):
            token = match.group()
            offset = match.start()
            frame = stack[-1] if stack else None
            if token == ":":
                frame[4] = False
                continue
            if token == ",":
                if frame[1]:
                    frame[4] = True
                else:
                    frame[2] += 1
                continue
            if token in "}]":
                stack.pop()
                continue
            if frame is not None and frame[1] and frame[4]:  # an object's key
                key = json.loads(token)
                if key in frame[3]:
                    self.fail("E_DUPLICATE_KEY", f'duplicate key "{key}"', offset)
                frame[3].add(key)
                frame[2] = key
                key_positions[frame[0] + (key,)] = offset
                continue
            path = () if frame is None else frame[0] + (frame[2],)
            if frame is not None:
                positions[path] = offset
            if token in "{[":
                if len(stack) >= self.max_depth:
                    self.fail("E_TOO_DEEP", f"nesting deeper than {self.max_depth} levels", offset)
                stack.append([path, token == "{", 0, set(), True])
        self.doc.positions = {p: self.where(o) for p, o in positions.items()}
        self.doc.key_positions = {p: self.where(o) for p, o in key_positions.items()}


class _Converter:
    """Turn ruamel's round-trip nodes into plain dict/list/str/int/float/bool/None, with positions."""

    def __init__(self, doc: Document, max_depth: int, max_nodes: int, error_cls: type):
        self.doc = doc
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.error_cls = error_cls
        self.nodes = 0

    def fail(self, code: str, message: str, path: Path_) -> None:
        raise self.error_cls([Diagnostic(code, message, self.doc.span(path))])

    def convert(self, node: Any, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self.fail("E_TOO_LARGE", f"more than {self.max_nodes} values (after expanding aliases)", path)
        if depth > self.max_depth:
            self.fail("E_TOO_DEEP", f"nesting deeper than {self.max_depth} levels", path)
        if isinstance(node, CommentedMap):
            out = {}
            for key in node:
                kpath = path + (_plain_key(key),)
                try:
                    kline, kcol = node.lc.key(key)
                    vline, vcol = node.lc.value(key)
                    self.doc.key_positions[kpath] = (kline + 1, kcol + 1)
                    self.doc.positions[kpath] = (vline + 1, vcol + 1)
                except (KeyError, TypeError, AttributeError):
                    pass
                out[_plain_key(key)] = self.convert(node[key], kpath, depth + 1)
            return out
        if isinstance(node, CommentedSeq):
            out_list = []
            for index, item in enumerate(node):
                ipath = path + (index,)
                try:
                    line, col = node.lc.item(index)
                    self.doc.positions[ipath] = (line + 1, col + 1)
                except (KeyError, TypeError, AttributeError):
                    pass
                out_list.append(self.convert(item, ipath, depth + 1))
            return out_list
        return self.scalar(node, path)

    def scalar(self, node: Any, path: Path_) -> Any:
        if node is None or type(node) in (str, int, float, bool):
            return node
        if isinstance(node, (bool, ScalarBoolean)):
            return bool(node)
        if isinstance(node, str):
            return str(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        # ruamel's ScalarBoolean subclasses int; TaggedScalar and friends mean a custom tag.
        tag = getattr(getattr(node, "tag", None), "value", None) or type(node).__name__
        self.fail("E_YAML_TAG", f"unsupported YAML tag or type {tag!s}", path)
        return None


def _plain_key(key: Any) -> Any:
    if key is None or type(key) in (str, int, float, bool):
        return key
    if isinstance(key, (bool, ScalarBoolean)):
        return bool(key)
    if isinstance(key, str):
        return str(key)
    if isinstance(key, int):
        return int(key)
    if isinstance(key, float):
        return float(key)
    return str(key)
