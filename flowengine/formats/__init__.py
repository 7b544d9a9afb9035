"""Input formats (dialects): each compiles its files to the IR. A registry picks one per file.

A format is a subclass of `Format` that registers itself by being defined (like sqlglot's dialects).
Built-in formats live in this package and load lazily; plugins come in through the
`flowengine.formats` entry-point group. Lookup by name suggests the closest name on a typo.

Detection order for a file: an explicit `format=`, then the longest matching suffix, then each
format's `sniff` of the content. Every compiled flow passes `validate_flow` before it is returned.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit
from typing import ClassVar

from ..diagnostics import Diagnostic, Span, did_you_mean
from ..errors import FlowError
from ..ir.model import Flow
from ..ir.validate import validate_flow
from ..structured import read_text

__all__ = ["Format", "get", "names", "detect", "compile_file", "compile_text", "load", "load_document", "is_url"]

# name -> module that defines it (imported on first use; a missing module is simply not available)
_BUILTIN: dict[str, str] = {
    "ir": "flowengine.formats.irjson",
    "inboundxml": "flowengine.formats.inboundxml",
    "twiml": "flowengine.formats.inboundxml",
    "actions10": "flowengine.formats.actions10",
    "ivr": "flowengine.formats.ivr",
    "pbx": "flowengine.formats.ivr.pbx",
    "ytel-ivr": "flowengine.formats.ivr.ytel",
    "fs-ivr": "flowengine.formats.ivr.freeswitch",
}
_REGISTRY: dict[str, "Format"] = {}
_loaded_all = False


class Format:
    """Base class of a dialect. Subclasses set `name`, `suffixes` and implement `compile`."""

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            _REGISTRY[cls.name] = cls()

    def sniff(self, text: str, filename: str) -> bool:
        """True when `text` looks like this format (used when the suffix does not decide)."""
        return False

    def compile(self, text: str, filename: str) -> Flow:
        """Compile source text to a Flow, or raise FlowError with diagnostics."""
        raise NotImplementedError

    def compile_document(self, body: str, url: str, content_type: str = "", parent: Flow | None = None,
                         origin: str | None = None) -> Flow:
        """Compile a document fetched while a call runs (InboundXML action answers, webhooks).

        `parent` is the running flow and `origin` the id of the state that fetched the document, when
        the `document` op asked for them (`inherit`): the answer is compiled against that flow and
        may jump into its states."""
        return self.compile(body, url)

    def configure(self, options: dict[str, str]) -> "Format":
        """This format with options, from a name like `inboundxml, pause_unit=ms` (sqlglot's settings)."""
        raise FlowError([Diagnostic("E_FORMAT", f"the {self.name} format takes no options "
                                    f"(got {', '.join(options)})")])

    def bootstrap(self, url: str) -> Flow:
        """A flow that starts a call by fetching `url` (for formats served over HTTP)."""
        raise FlowError([Diagnostic("E_FORMAT", f"the {self.name} format cannot be loaded from a URL", file=url)])


def _load_builtin(name: str) -> None:
    module = _BUILTIN.get(name)
    if module is None:
        return
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):  # the format module itself is not there
            return
        raise


def _load_all() -> None:
    global _loaded_all
    if _loaded_all:
        return
    for name in _BUILTIN:
        _load_builtin(name)
    for ep in entry_points(group="flowengine.formats"):
        ep.load()
    _loaded_all = True


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> Format:
    """The format called `name`; FlowError with a suggestion when there is none.

    Options may follow the name, comma-separated: `get("inboundxml, action_on_empty_result=true")`
    returns the format's `configure(options)`."""
    name, _, rest = name.partition(",")
    name = name.strip()
    if rest.strip():
        options = {}
        for item in rest.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise FlowError([Diagnostic("E_FORMAT", f"format option {item.strip()!r} is not name=value")])
            options[key.strip()] = value.strip()
        return get(name).configure(options)
    if name not in _REGISTRY:
        _load_builtin(name)
    if name not in _REGISTRY:
        _load_all()
    if name not in _REGISTRY:
        raise FlowError([Diagnostic("E_FORMAT", f"unknown format {name!r}{did_you_mean(name, _REGISTRY)}"
                                    f" (known: {', '.join(sorted(_REGISTRY))})")])
    return _REGISTRY[name]


def detect(filename: str, text: str) -> Format:
    _load_all()
    by_suffix = sorted(
        ((len(s), fmt) for fmt in _REGISTRY.values() for s in fmt.suffixes if filename.endswith(s)),
        key=lambda item: -item[0],
    )
    if by_suffix:
        tied = [fmt for length, fmt in by_suffix if length == by_suffix[0][0]]
        return next((fmt for fmt in tied if fmt.sniff(text, filename)), tied[0]) if len(tied) > 1 else tied[0]
    for fmt in _REGISTRY.values():
        if fmt.sniff(text, filename):
            return fmt
    raise FlowError([Diagnostic(
        "E_FORMAT", "cannot tell which flow format this is; name the file *.flow.json, *.xml, *.yaml "
        f"or name the format (--dialect NAME; `format` in a serve route; known: {', '.join(sorted(_REGISTRY))})",
        Span(filename, 1, 1))])


def _checked(flow: Flow) -> Flow:
    problems = validate_flow(flow)
    if any(d.is_error for d in problems):
        raise FlowError(problems)
    return flow


def compile_text(text: str, filename: str, format: str | None = None) -> Flow:
    fmt = get(format) if format else detect(filename, text)
    return _checked(fmt.compile(text, filename))


def compile_file(path: str | Path, format: str | None = None) -> Flow:
    text = read_text(path)
    return compile_text(text, str(path), format)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def load(source: str | Path, format: str | None = None) -> Flow:
    """A flow from a file path, or from a URL (fetched when the call starts)."""
    if isinstance(source, str) and is_url(source):
        try:
            urlsplit(source).hostname  # noqa: B018 - parses a bracketed host, raising ValueError when it is not one
        except ValueError as exc:
            raise FlowError([Diagnostic("E_URL", f"{source!r} is not a valid URL ({exc})", file=source)]) from None
        return _checked(get(format or "inboundxml").bootstrap(source))
    return compile_file(source, format)


def load_document(body: str, content_type: str, url: str, format: str, parent: Flow | None = None,
                  origin: str | None = None) -> Flow:
    """The interpreter's loader for documents fetched during a call."""
    fmt = get(format)
    if parent is None:
        return _checked(fmt.compile_document(body, url, content_type))
    return _checked(fmt.compile_document(body, url, content_type, parent=parent, origin=origin))
