"""JUnit XML for CI test views: one testcase per row and variant under test.

A case fails when any of its scores is below 0.5 (for pass/fail scorers: when
it failed); the failure carries the expected value and the model's output. A
case whose model call (or a scorer) failed is an ``<error>``. The gate's rules form one more
test suite, so a CI page shows which rule failed beside the rows that did.
Baseline variants are context, not tests, and are left out.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptkit.ci.baseline import RunOutcome
from promptkit.ci.gate import GateResult

__all__ = ["PASS_SCORE", "junit_xml", "write_junit"]

#: A case passes when every metric scores at least this.
PASS_SCORE = 0.5
# Characters XML 1.0 cannot carry at all (model output may contain them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def write_junit(outcome: RunOutcome, path: str | Path, gate: GateResult | None = None) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(junit_xml(outcome, gate))
    return target


def junit_xml(outcome: RunOutcome, gate: GateResult | None = None) -> bytes:
    root = ET.Element("testsuites", name=f"promptkit {outcome.meta.get('suite', '')}".strip())
    records = [{str(k): v for k, v in r.items()} for r in outcome.frame.to_dict("records")]
    for summary in outcome.head:
        rows = [r for r in records if r["variant"] == summary.variant]
        root.append(_variant_suite(summary.variant, rows, outcome.metrics))
    if gate is not None and gate.rules:
        root.append(_gate_suite(gate))
    _count(root)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def _variant_suite(
    variant: str, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]
) -> ET.Element:
    suite = ET.Element("testsuite", name=_text(variant))
    for row in rows:
        name = str(row["row_id"]) + (f" #{row['repeat']}" if _number(row.get("repeat")) else "")
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_text(variant),
            name=_text(name),
            time=f"{_number(row.get('latency_s')):.3f}",
        )
        _verdict(case, row, metrics)
    return suite


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def _verdict(case: ET.Element, row: Mapping[str, Any], metrics: Sequence[str]) -> None:
    error = row.get("error")
    raw = {m: row.get(f"score.{m}") for m in metrics}
    scores = {m: float(v) for m, v in raw.items() if v is not None and v == v}  # nan: unscored
    if isinstance(error, str) and error:  # the model call or a scorer failed
        node = ET.SubElement(case, "error", message=_text(error), type="error")
        node.text = _text(_details(row, scores))
        return
    low = {m: v for m, v in scores.items() if v < PASS_SCORE}
    if not low:
        return
    message = ", ".join(f"{m}={v:g}" for m, v in low.items())
    node = ET.SubElement(case, "failure", message=_text(message), type="score")
    node.text = _text(_details(row, scores))


def _missing(value: Any) -> bool:
    """None, or the NaN pandas puts in a column where a row has no value."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _shown(value: Any) -> str:
    return "(none)" if _missing(value) else str(value)


def _details(row: Mapping[str, Any], scores: Mapping[str, float]) -> str:
    lines = [
        f"expected: {_shown(row.get('expected'))}",
        f"output: {_shown(row.get('output'))}",
        f"parsed: {_shown(row.get('parsed'))}",
        "scores: " + ", ".join(f"{m}={v:g}" for m, v in scores.items()),
    ]
    for key, label in (("parse_error", "parse error"), ("error", "error")):
        value = row.get(key)
        if not _missing(value) and value != "":  # a row without one has NaN here
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


def _gate_suite(gate: GateResult) -> ET.Element:
    suite = ET.Element("testsuite", name="promptkit gate")
    for rule in gate.rules:
        name = _text(f"{rule.rule}: {rule.variant}")
        case = ET.SubElement(suite, "testcase", classname="promptkit gate", name=name)
        if rule.status == "fail":
            node = ET.SubElement(case, "failure", message=_text(rule.figures), type="gate")
            node.text = _text(str(rule))
        elif rule.status == "skip":
            ET.SubElement(case, "skipped", message=_text(rule.figures))
    return suite


def _count(root: ET.Element) -> None:
    """Fill in the tests/failures/errors/skipped attributes every JUnit reader expects."""
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(c.find("failure") is not None for c in cases),
            "errors": sum(c.find("error") is not None for c in cases),
            "skipped": sum(c.find("skipped") is not None for c in cases),
        }
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
