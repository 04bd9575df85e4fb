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
    choice,
    known_keys,
    mapping,
    non_negative_int,
    pattern,
    string,
)
from promptkit.errors import PromptError

__all__ = ["PARSER_TYPES", "PICKS", "Parsed", "Parser", "make_parser", "parser_spec"]

PARSER_TYPES = ("text", "label", "json", "regex")
#: What a label parser does when a reply mentions several labels: refuse, or take one.
PICKS = ("only", "first", "last")
_PARSER_KEYS = {
    "text": ("type",),
    "label": ("type", "labels", "aliases", "pick"),
    "json": ("type", "field"),
    "regex": ("type", "pattern", "group"),
}
#: Words that, right before a label, say the reply is *not* that label (folded: no accents).
_NEGATIONS = ("not", "no", "nao")
_REGEX_FLAGS = re.IGNORECASE | re.DOTALL


@dataclass(frozen=True)
class Parsed:
    """``value`` is what scorers compare; ``error`` says why nothing could be read."""

    value: Any
    error: str | None = None


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
    kind = "json"
    _FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

    def __init__(self, field: str | None) -> None:
        self.field = field

    def parse(self, text: str) -> Parsed:
        fenced = self._FENCE.search(text)
        candidate = fenced.group(1) if fenced else text
        value = _first_json_value(candidate)
        if value is None:
            return Parsed(None, "no JSON value in the reply")
        if self.field is None:
            return Parsed(value)
        if not isinstance(value, dict) or self.field not in value:
            return Parsed(None, f"JSON reply has no field {self.field!r}")
        return Parsed(value[self.field])


def _first_json_value(text: str) -> Any:
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                return decoder.raw_decode(text, start)[0]
            except json.JSONDecodeError:
                continue
    return None


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
    elif kind == "json" and spec.get("field") is not None:
        string(spec["field"], where.at("field"), what="a field name")
    return spec


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
    kind = checked["type"]
    if kind == "label":
        return LabelParser(checked["labels"], checked["aliases"], pick=checked["pick"])
    if kind == "json":
        return JsonParser(checked.get("field"))
    if kind == "regex":
        return RegexParser(checked["pattern"], checked.get("group", 0))
    return Parser()
