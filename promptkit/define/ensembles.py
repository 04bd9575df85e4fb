"""Ensembles: a virtual variant built from the answers of others, on the same rows.

    ensembles:
      - {name: vote3, of: [cls@v1, cls@v2, "cls@v3 | local/smollm2 | k=4"], rule: majority}

A member is a variant id, or the start of one at a ``|`` boundary (``cls@v1``,
``cls@v1 | local/smollm2``) that names exactly one variant. The combination asks
no model: it reads the members' parsed answers (``promptkit.run.ensembles``).

Rules, per row and repeat:

    majority     the answer most members gave, among members that gave one; a tie
                 between the most frequent answers gives no answer ("tie ...")
    unanimous    the answer when every member gave the same one; else no answer
    first_valid  the first member's answer, in the order listed, that was read
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from promptkit.define.validate import Where, choice, known_keys, mapping, string

__all__ = ["ENSEMBLE_MODEL", "ENSEMBLE_RULES", "EnsembleSpec", "ensemble_specs", "resolve_members"]

ENSEMBLE_RULES = ("majority", "unanimous", "first_valid")
#: The journal's ``model`` of an ensemble's rows: no model answered them.
ENSEMBLE_MODEL = "ensemble"
_KEYS = ("name", "of", "rule")
_FORM = "{name: NAME, of: [VARIANT, VARIANT, ...], rule: majority|unanimous|first_valid}"


@dataclass(frozen=True)
class EnsembleSpec:
    name: str
    members: tuple[str, ...]  # variant ids once resolved (as written before)
    rule: str = "majority"

    @property
    def prompt(self) -> str:
        """What the journal's ``prompt`` column holds for the ensemble's rows."""
        return f"ensemble:{self.name}"


def ensemble_specs(value: Any, where: Where) -> tuple[EnsembleSpec, ...]:
    """The ``ensembles`` key, checked for shape (members are resolved later)."""
    if not isinstance(value, list) or not value:
        raise where.expected(f"a list of {_FORM}", value)
    specs: list[EnsembleSpec] = []
    for index, entry in enumerate(value):
        place = where.at(index)
        spec = mapping(entry, place, what=_FORM)
        known_keys(spec, _KEYS, place, what="ensemble key")
        if "name" not in spec or "of" not in spec:
            raise place.fail("an ensemble needs 'name' and 'of'", _FORM)
        name = string(spec["name"], place.at("name"), what="an ensemble name")
        if "|" in name or not name.strip():
            raise place.at("name").fail(f"ensemble name {name!r} is not a name", "e.g. vote3")
        if any(s.name == name for s in specs):
            raise place.at("name").fail(f"two ensembles are named {name!r}", "name each once")
        members = spec["of"]
        if not isinstance(members, list) or len(members) < 2:
            raise place.at("of").expected("a list of at least two variants", members)
        written = tuple(
            string(m, place.at("of").at(i), what="a variant") for i, m in enumerate(members)
        )
        rule = choice(spec.get("rule", "majority"), ENSEMBLE_RULES, place.at("rule"))
        specs.append(EnsembleSpec(name, written, rule))
    return tuple(specs)


def resolve_members(spec: EnsembleSpec, variant_ids: Sequence[str], where: Where) -> EnsembleSpec:
    """``spec`` with each member as the one variant id it names."""
    resolved = []
    for member in spec.members:
        matches = [v for v in variant_ids if _names(member, v)]
        if len(matches) != 1:
            what = "no variant" if not matches else f"{len(matches)} variants"
            listed = "; ".join(matches or variant_ids)
            raise where.fail(
                f"ensemble {spec.name!r}: member {member!r} names {what}",
                f"give one of: {listed}",
            )
        if matches[0] in resolved:
            raise where.fail(
                f"ensemble {spec.name!r} lists {matches[0]!r} twice", "list each member once"
            )
        resolved.append(matches[0])
    if spec.name in variant_ids:
        raise where.fail(f"ensemble {spec.name!r} has a variant's name", "name it apart")
    return replace(spec, members=tuple(resolved))


def _names(member: str, variant_id: str) -> bool:
    """Whether ``member`` is ``variant_id`` or its start at a ``|`` boundary."""
    parts = [p.strip() for p in variant_id.split("|")]
    wanted = [p.strip() for p in member.split("|")]
    return parts[: len(wanted)] == wanted
