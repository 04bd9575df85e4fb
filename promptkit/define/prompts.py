"""Versioned prompt files: ``prompts/<family>/vN.jinja``.

A file is YAML front matter between ``---`` lines, then a Jinja body. The body
produces chat messages with ``{% message "role" %} ... {% endmessage %}``
blocks. The role is a literal in the template, so it is *structure*: text that
arrives through a variable (a dataset row, a model output) is only ever content
inside a message and can never open a new one. Variables are rendered once, so
Jinja syntax inside their values stays literal text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.ext import Extension

from promptkit.define.conversations import ConversationExtension
from promptkit.define.files import is_dir, parse_yaml, read_text
from promptkit.define.limits import (
    RenderLimitExceeded,
    RenderLimits,
    check_request_size,
    render_budget,
)
from promptkit.define.messages import _COLLECTOR, Message, _Collector, current_collector
from promptkit.define.parsers import parser_spec
from promptkit.define.sandbox import LimitedSandbox
from promptkit.define.shots import read_shots
from promptkit.define.structured import response_format
from promptkit.define.tools import tool_choice, tools
from promptkit.define.validate import (
    Where,
    key_lines,
    known_keys,
    mapping,
    request_params,
    string,
    string_list,
)
from promptkit.errors import PromptError

__all__ = [
    "ROLES",
    "Message",
    "Prompt",
    "PromptLibrary",
    "PromptMeta",
    "parse_ref",
]

ROLES = ("system", "user", "assistant")
FRONT_MATTER_KEYS = (
    "description",
    "inputs",
    "model",
    "params",
    "parser",
    "response_format",
    "shots",
    "tool_choice",
    "tools",
)
_REF = re.compile(r"^(?P<family>[A-Za-z0-9_\-]+)(?:@v(?P<version>\d+))?$")
_VERSION_FILE = re.compile(r"^v(\d+)\.jinja$")


class MessageExtension(Extension):
    """``{% message "user" %}...{% endmessage %}`` appends one chat message."""

    tags = {"message"}  # noqa: RUF012 - Jinja declares it this way

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        role = parser.parse_expression()
        if not isinstance(role, nodes.Const) or role.value not in ROLES:
            raise jinja2.TemplateSyntaxError(
                f"a message role must be one of {', '.join(repr(r) for r in ROLES)} "
                "written as a literal string",
                lineno,
            )
        body = parser.parse_statements(("name:endmessage",), drop_needle=True)
        call = self.call_method("_emit", [role])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _emit(self, role: str, caller: Any) -> str:
        collector = current_collector()
        if collector.depth:
            raise jinja2.TemplateRuntimeError("a {% message %} block cannot contain another")
        collector.depth += 1
        try:
            content = str(caller())
        finally:
            collector.depth -= 1
        collector.messages.append(Message(role, content.strip()))
        return ""


def _environment() -> LimitedSandbox:
    return LimitedSandbox(
        extensions=[MessageExtension, ConversationExtension],
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_ENV = _environment()


@dataclass(frozen=True)
class PromptMeta:
    """The front matter of a prompt file, validated."""

    description: str = ""
    inputs: tuple[str, ...] = ()
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    parser: Mapping[str, Any] = field(default_factory=lambda: {"type": "text"})
    shots: Mapping[str, Any] = field(default_factory=dict)
    #: The file line of each front matter key path (``params.temperature``), for messages.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"sentiment@v2"`` -> ``("sentiment", 2)``; ``"sentiment"`` -> ``("sentiment", None)``."""
    match = _REF.match(ref.strip())
    if not match:
        raise PromptError(
            f"bad prompt reference {ref!r}", hint="write FAMILY or FAMILY@vN, e.g. sentiment@v2"
        )
    version = match.group("version")
    return match.group("family"), int(version) if version else None


class Prompt:
    """One version of a prompt family, parsed and compiled."""

    def __init__(self, *, family: str, version: int, source: str, path: str | Path) -> None:
        self.family = family
        self.version = version
        self.source = source
        self.path = str(path)
        self.meta, body = _split_front_matter(source, self.path)
        self.hash = _content_hash(source, self.meta)
        self._template, self.variables = self._compile(body)

    @property
    def ref(self) -> str:
        return f"{self.family}@v{self.version}"

    @property
    def uses_examples(self) -> bool:
        return "examples" in self.variables

    @property
    def uses_documents(self) -> bool:
        return "documents" in self.variables

    def __repr__(self) -> str:
        return f"Prompt({self.ref}, hash={self.hash})"

    def _compile(self, body: str) -> tuple[jinja2.Template, frozenset[str]]:
        try:
            tree = _ENV.parse(body, name=self.ref, filename=self.path)
            code = _ENV.compile(tree, name=self.ref, filename=self.path)
            variables = frozenset(jinja2.meta.find_undeclared_variables(tree))
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(
                exc.message or "template syntax error",
                path=self.path,
                line=exc.lineno,
                hint="fix the Jinja syntax",
            ) from None
        except (RecursionError, SyntaxError, ValueError) as exc:
            raise _uncompilable(exc, self.path) from None
        template = _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None), None)
        return template, variables

    def render(
        self,
        variables: Mapping[str, Any],
        examples: Sequence[Mapping[str, Any]] = (),
        *,
        documents: Sequence[Mapping[str, Any]] | None = None,
        limits: RenderLimits | None = None,
        raw_conversations: bool = False,
    ) -> list[Message]:
        """Render to chat messages. ``examples`` are the few-shot rows, maybe empty;
        ``documents`` the passages retrieved for this row (None: an empty list, unless
        an input has that name).

        ``limits`` bound the render's size and time (default: ``RenderLimits.from_environment()``).
        ``raw_conversations``: ``{% conversation %}`` may read turns from any list or JSON
        text (``promptkit render --var``, a report re-reading a journal); otherwise only
        from a column the suite declares with ``conversation:``.
        """
        missing = [name for name in self.meta.inputs if name not in variables]
        if missing:
            raise PromptError(
                f"missing input {missing[0]!r} declared by {self.ref}",
                path=self.path,
                hint="give every input the front matter declares a value",
            )
        context = {**variables, "examples": [dict(e) for e in examples]}
        if documents is None:  # an input of that name stays the user's own value
            context.setdefault("documents", [])
        elif "documents" in variables:
            raise PromptError(
                "input 'documents' clashes with the passages retrieval passes as 'documents'",
                path=self.path,
                hint="map the column to another name in the suite's inputs: {docs: documents}",
            )
        else:
            context["documents"] = [dict(d) for d in documents]
        limits = limits or RenderLimits.from_environment()
        collector = _Collector(raw_conversations=raw_conversations)
        token = _COLLECTOR.set(collector)
        try:
            with render_budget(limits):
                outside = self._template.render(context)
        except PromptError:
            raise
        except Exception as exc:  # Jinja raises many types; each becomes one clear line
            raise self._runtime_error(exc) from None
        finally:
            _COLLECTOR.reset(token)
        self._check_size(collector.messages, limits)
        if outside.strip():
            raise PromptError(
                f"text outside any message block: {outside.strip()[:60]!r}",
                path=self.path,
                hint='wrap it in {% message "system" %}...{% endmessage %}',
            )
        if not collector.messages:
            raise PromptError(
                "the template produced no messages",
                path=self.path,
                hint='add a {% message "user" %}...{% endmessage %} block',
            )
        return collector.messages

    def _check_size(self, messages: Sequence[Message], limits: RenderLimits) -> None:
        try:
            check_request_size(sum(len(m.content) for m in messages), limits)
        except RenderLimitExceeded as exc:
            raise self._runtime_error(exc) from None

    def _runtime_error(self, exc: Exception) -> PromptError:
        line = _template_line(exc.__traceback__, self.path)
        if isinstance(exc, RenderLimitExceeded):
            return PromptError(f"render limit: {exc}", path=self.path, line=line, hint=exc.hint)
        if isinstance(exc, MemoryError):
            return PromptError(
                "render limit: out of memory while rendering",
                path=self.path,
                line=line,
                hint="make the template's output smaller",
            )
        if isinstance(exc, jinja2.UndefinedError):
            name = _undefined_name(str(exc))
            # Declared, a missing value is then reported by whoever supplies the inputs
            # (a suite's mapping, render --var), with that command's fix.
            hint = (
                f"declare {name!r} in the front matter inputs"
                if name
                else "check the variable and attribute names"
            )
            return PromptError(f"undefined variable: {exc}", path=self.path, line=line, hint=hint)
        if isinstance(exc, jinja2.exceptions.SecurityError):
            return PromptError(
                f"blocked by the template sandbox: {exc}",
                path=self.path,
                line=line,
                hint="templates may only format data",
            )
        message = str(exc) or type(exc).__name__  # MemoryError and others say nothing
        return PromptError(
            f"template error: {message}", path=self.path, line=line, hint="fix the template"
        )


def _uncompilable(exc: Exception, path: str) -> PromptError:
    """Templates Jinja parses but cannot turn into Python: too deep, or too long a number."""
    if isinstance(exc, RecursionError):
        problem, hint = "expressions nest too deeply to compile", "split them with {% set %}"
    elif isinstance(exc, SyntaxError):  # Python's own limits on the code Jinja generates
        problem, hint = f"blocks nest too deeply to compile ({exc.msg})", "nest fewer blocks"
    else:  # Python's limit on the digits of an integer literal
        problem, hint = f"a number cannot be read: {str(exc).split(':')[0]}", "shorten it"
    return PromptError(f"template error: {problem}", path=path, hint=hint)


def _template_line(tb: TracebackType | None, filename: str) -> int | None:
    """Jinja rewrites tracebacks so template frames carry the file's own line numbers."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _undefined_name(message: str) -> str | None:
    match = re.match(r"^'([^']+)' is undefined$", message)
    return match.group(1) if match else None


def _split_front_matter(source: str, path: str) -> tuple[PromptMeta, str]:
    """Return the metadata and the body, with the front matter blanked so lines match."""
    lines = source.split("\n")
    if not lines or lines[0].strip() != "---":
        return PromptMeta(), source
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise PromptError(
            "front matter is not closed", path=path, line=1, hint="end it with a line '---'"
        ) from None
    data, node = parse_yaml(
        "\n".join(lines[1:end]),
        path=path,
        error=PromptError,
        label="front matter is not valid YAML",
        hint="fix the YAML between the '---' lines",
        first_line=2,
    )
    where = Where(path, "", key_lines(node, first_line=2), PromptError)
    meta = _validate_meta({} if data is None else data, where)
    body = "\n" * (end + 1) + "\n".join(lines[end + 1 :])
    return meta, body


def _validate_meta(data: Any, where: Where) -> PromptMeta:
    """Each front matter key, checked for type and range where it is read."""
    if not isinstance(data, dict):
        raise PromptError("front matter must be a mapping", path=where.path, line=2)
    known_keys(data, FRONT_MATTER_KEYS, where, what="front matter key")
    description = data.get("description")
    model = data.get("model")
    if model is not None and "/" not in string(model, where.at("model"), what="provider/model"):
        raise where.at("model").expected("a provider/model name such as local/smollm2", model)
    shots = mapping(data.get("shots") or {}, where.at("shots"), what="shot settings {k, ...}")
    read_shots(shots, where.at("shots"))
    if description is not None:
        string(description, where.at("description"), empty=True)
    return PromptMeta(
        description=description or "",
        inputs=tuple(string_list(data.get("inputs") or [], where.at("inputs"))),
        model=model,
        params=_params(data, where),
        parser=parser_spec(data.get("parser"), where.at("parser")),
        shots=dict(shots),
        lines=dict(where.lines),
    )


def _content_hash(source: str, meta: PromptMeta) -> str:
    """The version's hash: its text, and what its ``response_format`` and ``tools`` ask
    for, which may live in files beside it (editing one changes what the prompt asks)."""
    content = source
    for key in _FILE_PARAMS:
        if key in meta.params:
            content += "\n" + json.dumps(meta.params[key], sort_keys=True)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]


#: Request parameters front matter declares by their own keys (possibly from a file).
_FILE_PARAMS = ("response_format", "tools", "tool_choice")


def _params(data: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """``params``, with ``response_format`` (:mod:`promptkit.define.structured`) and
    ``tools``/``tool_choice`` (:mod:`promptkit.define.tools`) added."""
    params = request_params(data.get("params"), where.at("params"))
    family = Path(where.path).parent.name if where.path else "response"
    functions = tools(data.get("tools"), where.at("tools"))
    declared = {
        "response_format": response_format(
            data.get("response_format"), where.at("response_format"), family=family
        ),
        "tools": functions,
        "tool_choice": tool_choice(data.get("tool_choice"), functions, where.at("tool_choice")),
    }
    for key, value in declared.items():
        if value is None:
            continue
        if key in params:  # response_format; tools and tool_choice never reach params
            raise where.at(key).fail(
                f"{key} is given twice (front matter and params)", hint="keep one"
            )
        params[key] = value
    return params


class PromptLibrary:
    """The prompt families under one folder (usually ``prompts/``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, int], Prompt] = {}

    def families(self) -> list[str]:
        if not is_dir(self.root):
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, family: str) -> list[int]:
        folder = self.root / family
        if not is_dir(folder):
            return []
        found = (_VERSION_FILE.match(p.name) for p in folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def get(self, ref: str) -> Prompt:
        family, version = parse_ref(ref)
        versions = self.versions(family)
        if not versions:
            known = ", ".join(self.families()) or "none"
            raise PromptError(
                f"unknown prompt family {family!r}",
                path=self.root,
                hint=f"known families: {known}",
            )
        if version is None:
            version = versions[-1]
        elif version not in versions:
            listed = ", ".join(f"{family}@v{v}" for v in versions)
            raise PromptError(
                f"unknown version {family}@v{version}",
                path=self.root / family,
                hint=f"available: {listed}",
            )
        key = (family, version)
        if key not in self._cache:
            path = self.root / family / f"v{version}.jinja"
            source = read_text(path, error=PromptError)
            self._cache[key] = Prompt(family=family, version=version, source=source, path=path)
        return self._cache[key]

    def __iter__(self) -> Iterator[Prompt]:
        for family in self.families():
            for version in self.versions(family):
                yield self.get(f"{family}@v{version}")
