"""One YAML document, read so that whatever a person writes is refused in words or loaded
as written: syntax errors at a line and column (not the parser's `in "<unicode string>"`),
duplicate keys with both lines (YAML itself keeps the last one silently), and bounds on
nesting and on what aliases add, so neither a deep document nor an alias bomb ("billion
laughs") can exhaust the stack or the memory.

The values are built from the parser's events (libyaml's, when present: it keeps a
10,000-service catalog fast) in one loop with an explicit stack: no recursion (libyaml's own
composer recurses in C and crashes the process on a document nested 100,000 deep), no
expansion (an alias shares the value it names, and its size is counted as it is met).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from components.core.problems import OMITTED, Problem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FILE_KEY = "(file)"
MAX_ALIAS_EXPANSION = 1_000_000  # values aliases may add beyond those written
MAX_DEPTH = 64  # a catalog nests about 5 deep
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# What YAML 1.1 allows in a stream (its "printable" set); checked first to say where.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class YamlRefused(Exception):
    """The document cannot be loaded; `problems` say why."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        self.problems = problems


def _file_problem(text: str) -> Problem:
    return Problem(FILE_KEY, OMITTED, text)


def _where(line: int, column: int) -> str:
    return f"line {line + 1}, column {column + 1}"


def _unprintable_problem(text: str) -> Problem | None:
    match = _NOT_PRINTABLE.search(text)
    if match is None:
        return None
    offset = match.start()
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return _file_problem(
        f"holds U+{ord(match.group()):04X} at {_where(line, column)}, a control character YAML does not"
        ' allow: remove it (in a double-quoted string write it as an escape, e.g. "\\t")'
    )


def _syntax_problem(error: yaml.YAMLError) -> Problem:
    """A parser error in words: where, what, and while reading what (no parser internals)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "cannot be parsed"
    problem = problem.replace("<stream end>", "the end of the file").replace("<document start>", "'---'")
    where = f" at {_where(mark.line, mark.column)}" if mark is not None else ""
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    started = ""
    if context and context_mark is not None:
        started = f" ({context}, started at {_where(context_mark.line, context_mark.column)})"
    return _file_problem(f"is not valid YAML{where}: {problem}{started}")


Link = tuple[str, "Link"] | None  # a value's path as a linked list: no copy per value


def _path(link: Link) -> str:
    parts: list[str] = []
    while link is not None:
        label, link = link
        parts.append(label)
    parts.reverse()
    return ".".join(parts[:8]) + (".…" if len(parts) > 8 else "") if parts else FILE_KEY


def _lines(lines: list[int]) -> str:
    shown = [str(line + 1) for line in lines]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _refused(link: Link, why: str) -> YamlRefused:
    return YamlRefused([Problem(_path(link), OMITTED, why)])


_NO_KEY = object()


class _Anchor(Enum):
    OPEN = "open"  # an anchor whose collection is still being read (an enum: `is` narrows its type)


_OPEN = _Anchor.OPEN


@dataclass
class _Frame:
    """A map or a list being read: its entries so far, and how many values it stands for
    once its aliases are counted (`weight`)."""

    is_map: bool
    anchor: str | None
    link: Link
    entries: list[Any] = field(default_factory=list)  # list: values; map: (key, text, line, value)
    merges: list[list[dict[Any, Any]]] = field(default_factory=list)  # map: the maps its `<<` keys merge, in order
    key: Any = _NO_KEY  # map: the key waiting for its value
    key_text: str = ""  # as written, for messages
    key_line: int | None = 0  # None: a key that is a collection, which _open refuses
    key_merges: bool = False
    weight: int = 1

    def child_link(self) -> Link:
        if not self.is_map:
            return (str(len(self.entries)), self.link)
        if self.key is _NO_KEY:
            return ("(a key)", self.link)
        return (self.key_text, self.link)


def _merged(group: Any, link: Link) -> list[dict[Any, Any]]:
    """What one `<<` merges: a map, or a list of maps (the first wins where they overlap)."""
    maps = group if isinstance(group, list) else [group]
    if not all(isinstance(one, dict) for one in maps):
        raise _refused(link, "`<<` merges a map (*name of a map) or a list of them")
    return list(reversed(maps))


def _duplicate_problems(frame: _Frame) -> list[Problem]:
    """Keys written more than once in one map, with every line they are on."""
    lines: dict[Any, list[int]] = {}
    texts: dict[Any, str] = {}
    for key, text, line, _ in frame.entries:
        lines.setdefault(key, []).append(line)
        texts.setdefault(key, text)
    problems = []
    for key, at in lines.items():
        if len(at) > 1:
            times = "twice" if len(at) == 2 else f"{len(at)} times"
            problems.append(
                Problem(
                    _path((texts[key], frame.link)),
                    OMITTED,
                    f"is written {times}, at lines {_lines(at)}: keep one (YAML would silently use the last)",
                )
            )
    return problems


class _Reader:
    """The document's values from the parser's events, one loop, an explicit stack."""

    def __init__(self, loader: Any):
        self.loader = loader
        self.frames: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int] | _Anchor] = {}
        self.problems: list[Problem] = []
        self.expansion = 0  # values aliases add beyond those written
        self.documents = 0
        self.root: Any = None

    def read(self) -> Any:
        while True:
            event = self.loader.get_event()
            kind = event.__class__
            if kind is ScalarEvent:
                self._scalar(event)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                self._open(event, kind is MappingStartEvent)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                self._close()
            elif kind is AliasEvent:
                self._alias(event)
            elif kind is DocumentStartEvent:
                self._document(event)
            elif kind is StreamEndEvent:
                return self.root

    def _document(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            raise YamlRefused(
                [
                    _file_problem(
                        f"holds more than one YAML document (a second one starts at {_where(event.start_mark.line, 0)}): keep one"
                    )
                ]
            )

    def _link(self) -> Link:
        return self.frames[-1].child_link() if self.frames else None

    def _scalar(self, event: Any) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        if tag == _STR_TAG:
            value = event.value
        elif tag == _MERGE_TAG:
            value = event.value  # `<<`: a merge as a map's key, else just the text
            if self.frames and self.frames[-1].is_map and self.frames[-1].key is _NO_KEY:
                self.frames[-1].key_merges = True
        else:  # numbers, true, null, dates, !!binary …, by the safe constructor; unknown tags refused
            value = self.loader.construct_object(
                ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            )
        self._remember(event.anchor, value, 1)
        self._add(value, 1, event.start_mark.line, event.value)

    def _open(self, event: Any, is_map: bool) -> None:
        link = self._link()
        if self.frames and self.frames[-1].is_map and self.frames[-1].key is _NO_KEY:
            raise _refused(self.frames[-1].link, "has a key that is a list or a map: keys are names")
        if len(self.frames) >= MAX_DEPTH:
            raise _refused(link, f"nests deeper than {MAX_DEPTH} levels")
        tag = event.tag
        if tag is not None and tag != "!" and tag != (_MAP_TAG if is_map else _SEQ_TAG):
            raise _refused(
                link, f"is tagged {tag.replace('tag:yaml.org,2002:', '!!')}: the catalog takes plain maps and lists"
            )
        if event.anchor is not None:
            self.anchors[event.anchor] = _OPEN
        self.frames.append(_Frame(is_map=is_map, anchor=event.anchor, link=link))

    def _close(self) -> None:
        frame = self.frames.pop()
        if frame.is_map:
            self.problems += _duplicate_problems(frame)
            value: Any = {}
            for group in frame.merges:  # later `<<` keys override earlier ones; written keys override all
                for merged in group:
                    value.update(merged)
            value.update((key, entry) for key, _, _, entry in frame.entries)
        else:
            value = frame.entries
        self._remember(frame.anchor, value, frame.weight)
        self._add(value, frame.weight, None)

    def _alias(self, event: Any) -> None:
        found = self.anchors.get(event.anchor)
        link = self._link()
        if found is None:
            raise _refused(link, f"*{event.anchor} names no anchor &{event.anchor} written before it")
        if found is _OPEN:
            raise _refused(
                link, f"*{event.anchor} is inside the value &{event.anchor} names (a loop): it would never end"
            )
        value, weight = found
        self.expansion += weight - 1
        if self.expansion > MAX_ALIAS_EXPANSION:
            raise YamlRefused(
                [
                    _file_problem(
                        f"its aliases (*name) add more than {MAX_ALIAS_EXPANSION:,} values to what is written"
                        f" (an alias bomb?), the last at {_where(event.start_mark.line, event.start_mark.column)}: write the values out"
                    )
                ]
            )
        if (
            isinstance(value, (dict, list))
            and self.frames
            and self.frames[-1].is_map
            and self.frames[-1].key is _NO_KEY
        ):
            raise _refused(self.frames[-1].link, "has a key that is a list or a map: keys are names")
        self._add(value, weight, event.start_mark.line, f"*{event.anchor}")

    def _remember(self, anchor: str | None, value: Any, weight: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, weight)

    def _add(self, value: Any, weight: int, line: int | None, text: str = "") -> None:
        if not self.frames:
            self.root = value
            return
        frame = self.frames[-1]
        frame.weight += weight
        if not frame.is_map:
            frame.entries.append(value)
        elif frame.key is _NO_KEY:
            frame.key, frame.key_text, frame.key_line = value, text, line
        else:
            if frame.key_merges:
                frame.merges.append(_merged(value, frame.child_link()))
            else:
                frame.entries.append((frame.key, frame.key_text, frame.key_line, value))
            frame.key, frame.key_merges = _NO_KEY, False


def load(text: str) -> tuple[Any, list[Problem]]:
    """(the document, problems that do not stop it being read: duplicate keys); raises
    YamlRefused with every problem when it cannot be read at all."""
    unprintable = _unprintable_problem(text)
    if unprintable is not None:
        raise YamlRefused([unprintable])
    loader = _Loader(text)
    reader = _Reader(loader)
    try:
        document = reader.read()
    except yaml.YAMLError as error:  # syntax, an unknown !tag, …
        raise YamlRefused([_syntax_problem(error)]) from None
    finally:
        loader.dispose()
    return document, reader.problems
