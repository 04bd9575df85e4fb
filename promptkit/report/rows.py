"""The HTML report's row table: every dataset row, each variant's answer beside it.

Compact enough for 10,000 rows; the page's script filters and pages it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptkit.define.conversations import looks_like_turns, transcript
from promptkit.report.content import RunContent, as_text
from promptkit.results.store import JournalRow

__all__ = ["row_table"]


def row_table(content: RunContent) -> dict[str, Any]:
    """Rows side by side, compact enough for 10,000 rows: one entry per dataset row.

    ``rows`` holds ``[row id, input, expected, cells]`` with one cell per variant,
    ``[output, parsed or null when equal to the output, scores per metric, error,
    repeats, parse error]``, or ``0`` when the variant has no row for it. Repeats keep their first
    output and the mean score.
    """
    index = {v.id: i for i, v in enumerate(content.variants)}
    rows: dict[str, list[Any]] = {}
    sums: dict[tuple[str, int], list[list[float]]] = {}
    for record in content.journal:
        position = index.get(str(record.get("variant")))
        if position is None:
            continue
        row_id = str(record.get("row_id"))
        entry = rows.get(row_id)
        if entry is None:
            entry = [row_id, _input_text(record.get("input")), as_text(record.get("expected"))]
            entry.append([0] * len(index))
            rows[row_id] = entry
        cells = entry[3]
        if cells[position] == 0:
            cells[position] = _cell(record)
            sums[(row_id, position)] = [[] for _ in content.metrics]
        else:
            cells[position][4] += 1
        scores = record.get("scores") or {}
        for i, metric in enumerate(content.metrics):
            if isinstance(scores.get(metric), int | float):
                sums[(row_id, position)][i].append(float(scores[metric]))
    for (row_id, position), values in sums.items():
        rows[row_id][3][position][2] = [sum(v) / len(v) if v else None for v in values]
    return {
        "variants": [{"id": v.id, "label": v.label, "color": v.color} for v in content.variants],
        "metrics": content.metrics,
        "reference": index.get(content.reference or "", 0),
        "rows": list(rows.values()),
    }


def _cell(record: JournalRow) -> list[Any]:
    output = record.get("output")
    output_text = _with_calls("" if output is None else str(output), record.get("tool_calls"))
    parsed = record.get("parsed")
    parsed_text = None if parsed is None else as_text(parsed)
    if parsed_text == output_text.strip():
        parsed_text = None
    output_text = _with_passages(output_text, record.get("retrieved_ids"))
    error, parse_error = record.get("error"), record.get("parse_error")
    return [
        output_text,
        parsed_text,
        [],  # scores, filled in once every repeat is read
        None if error is None else str(error),
        1,  # repeats
        None if parse_error is None else str(parse_error),
    ]


def _with_calls(text: str, calls: Any) -> str:
    """The reply, then each function call it proposed, one a line: ``→ name({...})``."""
    lines = [
        f"\u2192 {call.get('name')}({call.get('raw_arguments', '')})"
        for call in calls or ()
        if isinstance(call, Mapping)
    ]
    return "\n".join([text, *lines] if text else lines)


def _with_passages(text: str, ids: Any) -> str:
    """The reply, then the passages its row was given: what a failing row had to go on."""
    if not isinstance(ids, list):  # the suite retrieves nothing
        return text
    listed = ", ".join(str(i) for i in ids) or "none (docs=0)"
    return f"{text}\n[passages: {listed}]" if text else f"[passages: {listed}]"


def _input_text(inputs: Any) -> str:
    if isinstance(inputs, Mapping):
        if len(inputs) == 1:
            return _input_value(next(iter(inputs.values())))
        return "\n".join(f"{k}: {_input_value(v)}" for k, v in inputs.items())
    return _input_value(inputs)


def _input_value(value: Any) -> str:
    """A conversation reads as its transcript, one turn a line."""
    return transcript(value) if looks_like_turns(value) else as_text(value)
