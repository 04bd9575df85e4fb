"""Reading a model's answer before it is scored.

A prompt's front matter declares its parser:

    parser: {type: label, labels: [positive, negative], aliases: {positivo: positive}}
    parser: {type: json, field: answer}
    parser: {type: regex, pattern: "Rating: (\\d)", group: 1}
    parser: text

Small models answer verbosely ("The review is positive, but..."), so ``label``
searches the reply for the allowed labels (and aliases) as whole words, ignoring
case and accents. A label right after a negation ("not positive", "não
positivo", "isn't positive") is not a mention of it. A reply that mentions two
different labels ("positive or negative", "urgente, normal, baixa") names no
answer, so it is unparsed ("ambiguous: mentions ...") unless the parser says
``pick: first`` or ``pick: last``, which take the earliest or the latest mention.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptkit.define.validate import (
    Where,
    boolean,
    choice,
    known_keys,
    mapping,
    non_negative_int,
    pattern,
    string,
)
from promptkit.errors import PromptError

__all__ = [
    "PARSER_TYPES",
    "PICKS",
    "Parsed",
    "Parser",
    "ReasoningParser",
    "make_parser",
    "parser_spec",
]

PARSER_TYPES = ("text", "label", "json", "regex")
#: What a label parser does when a reply mentions several labels: refuse, or take one.
PICKS = ("only", "first", "last")
#: Which JSON value a json parser takes when a reply holds several.
JSON_PICKS = ("first", "last", "largest")
_PARSER_KEYS = {
    "text": ("type", "answer_after"),
    "label": ("type", "labels", "aliases", "pick", "answer_after"),
    "json": ("type", "field", "repair", "pick", "answer_after"),
    "regex": ("type", "pattern", "group", "answer_after"),
}
_ANSWER_AFTER = 'a marker ("Answer:"), {pattern: REGEX} or {line: last}'

#: Words that, right before a label, say the reply is *not* that label (folded: no accents).
_NEGATIONS = ("not", "no", "nao")
_REGEX_FLAGS = re.IGNORECASE | re.DOTALL


@dataclass(frozen=True)
class Parsed:
    """``value`` is what scorers compare; ``error`` says why nothing could be read."""

    value: Any
    error: str | None = None
    #: What the parser did that a reader should know: repaired the JSON, chose one of
    #: several values. Journaled as ``parse_note``, so a report can count repairs.
    note: str | None = None
    #: The reply's text before the answer, when the parser reads the answer after a
    #: marker (``answer_after``): the model's reasoning, journaled as ``reasoning``.
    reasoning: str | None = None


def fold(text: str) -> str:
    """Lower case without accents: 'Négatif' and 'negatif' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Parser:
    kind = "text"

    def parse(self, text: str) -> Parsed:
        return Parsed(text.strip())

    @property
    def outputs(self) -> frozenset[str] | None:
        """Every value this parser can produce, when that is a closed set (else None)."""
        return None


class LabelParser(Parser):
    kind = "label"

    def __init__(
        self, labels: list[str], aliases: Mapping[str, str], *, pick: str = "only"
    ) -> None:
        self.labels = labels
        self.pick = pick
        names = {label: label for label in labels} | dict(aliases)
        # Longest names first so 'very positive' wins over 'positive' at the same place.
        ordered = sorted(names, key=len, reverse=True)
        self._canonical = {fold(n): names[n] for n in ordered}
        alternatives = "|".join(re.escape(fold(n)) for n in ordered)
        self._pattern = re.compile(rf"(?<![\w-])({alternatives})(?![\w-])")
        # A negation word that is itself a label ('no' of yes/no) stays a label.
        negations = [n for n in _NEGATIONS if n not in self._canonical]
        words = rf"(?<![\w-])(?:{'|'.join(negations)})|" if negations else ""
        self._negation = re.compile(rf"(?:{words}n['\u2019]t)\s+$")

    @property
    def outputs(self) -> frozenset[str]:
        return frozenset(self.labels)

    def parse(self, text: str) -> Parsed:
        folded = fold(text)
        mentions: list[str] = []
        negated: list[str] = []
        for match in self._pattern.finditer(folded):
            label = self._canonical[match.group(1)]
            is_negated = self._negation.search(folded, max(0, match.start() - 40), match.start())
            (negated if is_negated else mentions).append(label)
        distinct = list(dict.fromkeys(mentions))
        if len(distinct) == 1 or (distinct and self.pick != "only"):
            return Parsed(mentions[-1] if self.pick == "last" else mentions[0])
        if distinct:
            named = ", ".join(distinct[:-1]) + f" and {distinct[-1]}"
            return Parsed(None, f"ambiguous: mentions {named}")
        if negated:
            return Parsed(None, f"no label of {self.labels} in the reply, only 'not {negated[0]}'")
        return Parsed(None, f"no label of {self.labels} in the reply")


class JsonParser(Parser):
    """The JSON value in a reply (inside a ```json fence when there is one).

    ``pick`` chooses among several values (first, last, largest) and says so in the note;
    ``repair`` reads near-JSON models write (single quotes, trailing commas, a final
    object or string left unclosed) and notes what it repaired, never silently.
    """

    kind = "json"
    _FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

    def __init__(self, field: str | None, *, repair: bool = False, pick: str = "first") -> None:
        self.field, self.repair, self.pick = field, repair, pick

    def parse(self, text: str) -> Parsed:
        fenced = self._FENCE.search(text)
        candidate = fenced.group(1) if fenced else text
        found, note = _json_values(candidate), None
        if not found and self.repair:
            repaired, what = repair_json(candidate)
            found = _json_values(repaired)
            note = f"repaired: {', '.join(what)}" if found else None
        if not found:
            unclosed = candidate.count("{") > candidate.count("}")
            return Parsed(None, _UNCLOSED if unclosed else "no JSON value in the reply")
        value, chose = self._chosen(found)
        note = "; ".join(n for n in (note, chose) if n) or None
        if self.field is None:
            return Parsed(value, note=note)
        if not isinstance(value, dict) or self.field not in value:
            return Parsed(None, f"JSON reply has no field {self.field!r}", note)
        return Parsed(value[self.field], note=note)

    def _chosen(self, found: list[tuple[Any, int]]) -> tuple[Any, str | None]:
        if len(found) == 1:
            return found[0][0], None
        if self.pick == "last":
            value = found[-1][0]
        elif self.pick == "largest":
            value = max(found, key=lambda f: f[1])[0]
        else:
            value = found[0][0]
        return value, f"{len(found)} JSON values in the reply: took the {self.pick} (pick)"


def _json_values(text: str) -> list[tuple[Any, int]]:
    """Every top-level JSON object or array in ``text``, with the length of its text."""
    decoder, found, start = json.JSONDecoder(), [], 0
    while start < len(text):
        if text[start] in "{[":
            try:
                value, end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                start += 1
                continue
            found.append((value, end - start))
            start = end
        else:
            start += 1
    return found


_UNCLOSED = "an unclosed JSON object in the reply (repair: true closes it)"
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def repair_json(text: str) -> tuple[str, list[str]]:
    """Near-JSON made JSON, and what was done: single-quoted strings to double quotes,
    trailing commas dropped, an unclosed final string and unclosed brackets closed."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return text, []
    body, done = text[start:], []
    if "'" in body and '"' not in body:
        body, done = body.replace("'", '"'), ["single quotes"]
    if _TRAILING_COMMA.search(body):
        body, done = _TRAILING_COMMA.sub(r"\1", body), [*done, "trailing commas"]
    closers, in_string, escaped = [], False, False
    for char in body:
        if in_string:  # inside a string only an unescaped quote matters
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]" and closers:
            closers.pop()
    if in_string:
        body, done = body + '"', [*done, "an unclosed string"]
    if closers:
        body = _TRAILING_COMMA.sub(r"\1", body.rstrip().rstrip(",") + "".join(reversed(closers)))
        done = [*done, f"{len(closers)} unclosed bracket(s)"]
    return body, done


class RegexParser(Parser):
    kind = "regex"

    def __init__(self, pattern: str, group: int | str) -> None:
        self.pattern = re.compile(pattern, _REGEX_FLAGS)
        self.group = group

    def parse(self, text: str) -> Parsed:
        match = self.pattern.search(text)
        if match is None:
            return Parsed(None, f"reply does not match /{self.pattern.pattern}/")
        return Parsed(match.group(self.group))


class ReasoningParser(Parser):
    """Reasoning first, then the answer: ``inner`` reads only the text after the last
    ``marker`` (literal, any case), after the last match of ``pattern``, or the last
    non-empty line; what comes before is kept as the reasoning. A reply without the
    marker has no answer: it is unparsed, saying so, never read whole."""

    def __init__(
        self,
        inner: Parser,
        *,
        marker: str | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.pattern = pattern or (re.compile(re.escape(marker), re.IGNORECASE) if marker else None)
        self.described = (
            f"{marker!r}"
            if marker
            else (f"match of /{pattern.pattern}/" if pattern else "non-empty line")
        )

    @property
    def outputs(self) -> frozenset[str] | None:
        return self.inner.outputs

    def split(self, text: str) -> tuple[str, str] | None:
        """(reasoning, answer text), or None when the reply has no answer part."""
        if self.pattern is None:
            lines = [line for line in text.strip().splitlines() if line.strip()]
            return ("\n".join(lines[:-1]), lines[-1]) if lines else None
        matches = list(self.pattern.finditer(text))
        if not matches:
            return None
        last = matches[-1]
        return text[: last.start()].strip(), text[last.end() :]

    def parse(self, text: str) -> Parsed:
        parts = self.split(text)
        if parts is None:
            return Parsed(None, f"no {self.described} in the reply: the answer is read after it")
        reasoning, answer = parts
        if not answer.strip():  # "Answer:" and then nothing: no answer, not an empty one
            return Parsed(None, f"nothing after the {self.described} in the reply", None, reasoning)
        parsed = self.inner.parse(answer)
        return Parsed(parsed.value, parsed.error, parsed.note, reasoning)


# --- the front matter's parser key ------------------------------------------------------------


def parser_spec(value: Any, where: Where) -> dict[str, Any]:
    """The ``parser`` key as written (a type name or a mapping), checked for every field."""
    if value is None:
        return {"type": "text"}
    spec = {"type": value} if isinstance(value, str) else value
    spec = dict(mapping(spec, where, what="a parser type or {type: ..., ...}"))
    kind = choice(spec.get("type", "text"), PARSER_TYPES, where.at("type"))
    known_keys(spec, _PARSER_KEYS[kind], where, what=f"{kind} parser key")
    if kind == "label":
        _label_spec(spec, where)
    elif kind == "regex":
        _regex_spec(spec, where)
    elif kind == "json":
        _json_spec(spec, where)
    if spec.get("answer_after") is not None:
        spec["answer_after"] = _answer_after_spec(spec["answer_after"], where.at("answer_after"))
    return spec


def _answer_after_spec(value: Any, where: Where) -> str | dict[str, str]:
    """``"Answer:"``, ``{pattern: REGEX}`` (a valid one) or ``{line: last}``."""
    if isinstance(value, str):
        if not value.strip():
            raise where.expected(_ANSWER_AFTER, value)
        return value
    spec = mapping(value, where, what=_ANSWER_AFTER)
    known_keys(spec, ("pattern", "line"), where, what="answer_after key")
    if len(spec) != 1:
        raise where.expected(_ANSWER_AFTER, value)
    if "pattern" in spec:
        pattern(spec["pattern"], where.at("pattern"), flags=re.IGNORECASE)
        return {"pattern": str(spec["pattern"])}
    return {"line": choice(spec["line"], ("last",), where.at("line"))}


def _json_spec(spec: dict[str, Any], where: Where) -> None:
    if spec.get("field") is not None:
        string(spec["field"], where.at("field"), what="a field name")
    spec["repair"] = boolean(spec.get("repair", False), where.at("repair"))
    spec["pick"] = choice(spec.get("pick", "first"), JSON_PICKS, where.at("pick"))


def _label(value: Any, where: Where) -> str:
    """A label as written: text, or a bare number (``labels: [1, 2, 3]``) meaning its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return string(value, where, what="a label")


def _label_spec(spec: dict[str, Any], where: Where) -> None:
    if "labels" not in spec:
        raise where.fail("parser 'label' needs 'labels'", "add labels: [a, b, ...] under 'parser'")
    raw = spec["labels"]
    if not isinstance(raw, list) or not raw:
        raise where.at("labels").expected("a non-empty list of labels", raw)
    labels = [_label(v, where.at("labels").at(i)) for i, v in enumerate(raw)]
    folded = [fold(label) for label in labels]
    twice = next((lab for lab, f in zip(labels, folded, strict=True) if folded.count(f) > 1), None)
    if twice is not None:
        raise where.at("labels").fail(f"label {twice!r} is listed twice", "list each label once")
    aliases = mapping(spec.get("aliases") or {}, where.at("aliases"), what="{alias: label}")
    by_fold = dict(zip(folded, labels, strict=True))
    normalised = {}
    for alias, target in aliases.items():
        place = where.at("aliases").at(str(alias))
        name, goal = _label(alias, place), _label(target, place)
        if fold(goal) not in by_fold:
            raise place.expected(f"one of the labels ({', '.join(labels)})", target)
        if fold(name) in by_fold and by_fold[fold(name)] != by_fold[fold(goal)]:
            raise place.fail(f"alias {name!r} is another label", "an alias names one label")
        normalised[name] = by_fold[fold(goal)]
    spec["labels"], spec["aliases"] = labels, normalised
    spec["pick"] = choice(spec.get("pick", "only"), PICKS, where.at("pick"))


def _regex_spec(spec: dict[str, Any], where: Where) -> None:
    if "pattern" not in spec:
        raise where.fail("parser 'regex' needs 'pattern'", "add pattern: ... under 'parser'")
    compiled = pattern(spec["pattern"], where.at("pattern"), flags=_REGEX_FLAGS)
    group = spec.get("group", 0)
    if isinstance(group, str):
        if group not in compiled.groupindex:
            raise where.at("group").fail(
                f"the pattern has no group named {group!r}", "name a (?P<name>...) group"
            )
        return
    hint = f"the pattern has {compiled.groups} group(s); 0 is the whole match"
    non_negative_int(group, where.at("group"), cap=compiled.groups, hint=hint)


def make_parser(
    spec: Mapping[str, Any] | str | None, *, path: str | None = None, where: Where | None = None
) -> Parser:
    """Build the parser a prompt's front matter declares (checked as :func:`parser_spec`)."""
    checked = parser_spec(spec, where or Where(path, "parser", error=PromptError))
    inner = _make(checked)
    after = checked.get("answer_after")
    if after is None:
        return inner
    if isinstance(after, str):
        return ReasoningParser(inner, marker=after)
    if "pattern" in after:
        return ReasoningParser(inner, pattern=re.compile(after["pattern"], re.IGNORECASE))
    return ReasoningParser(inner)


def _make(checked: Mapping[str, Any]) -> Parser:
    kind = checked["type"]
    if kind == "label":
        return LabelParser(checked["labels"], checked["aliases"], pick=checked["pick"])
    if kind == "json":
        return JsonParser(
            checked.get("field"), repair=checked.get("repair", False), pick=checked["pick"]
        )
    if kind == "regex":
        return RegexParser(checked["pattern"], checked.get("group", 0))
    return Parser()
