"""``promptkit import promptfoo``: a promptfoo config -> prompt files, suites, datasets.

Converted: ``description``, ``prompts`` (inline text, ``file://`` text, ``file://``
JSON chat message lists, ``{raw|id, label}`` objects), ``providers`` (see
:func:`_model`), ``tests`` (inline, or ``file://`` CSV / JSON / YAML, with ``vars``
inline or ``file://`` JSON / YAML and CSV ``__expected`` columns), ``defaultTest``
(vars, assertions and ``options.provider`` as the judge) and the assertions in
:mod:`promptkit.importers.promptfoo_asserts`.

Everything else is *listed*, with the file and line, as :class:`Skipped`: nothing is
dropped silently. Tests whose assertions differ in kind go to separate suites
(``<name>``, ``<name>_2``...), since a suite scores every row with the same scorers.
Files that already exist are never overwritten.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.sandbox
import yaml

from promptkit.define.datasets import load_dataset
from promptkit.define.files import is_file, load_json, parse_yaml, read_text
from promptkit.define.validate import key_lines
from promptkit.importers.nunjucks import to_jinja
from promptkit.importers.promptfoo_asserts import Converted, Unconverted, convert_assertion
from promptkit.importers.promptfoo_common import ImportConfigError, ImportResult, Reader, Skipped
from promptkit.importers.promptfoo_providers import judge, models

__all__ = ["ImportConfigError", "ImportResult", "Skipped", "import_promptfoo"]

_CONVERTED_KEYS = {"description", "prompts", "providers", "tests", "defaultTest"}
_ROLES = ("system", "user", "assistant")


@dataclass
class _Test:
    index: int
    vars: dict[str, Any]
    scorers: list[Converted]


def import_promptfoo(
    config: str | Path, out_dir: str | Path = ".", *, name: str | None = None
) -> ImportResult:
    """Convert ``config`` into ``out_dir``/prompts, evals and datasets; see the module."""
    path = Path(config)
    if not is_file(path):
        raise ImportConfigError("config file not found", path=path, hint="check the path")
    data, node = parse_yaml(
        read_text(path, error=ImportConfigError), path=path, error=ImportConfigError
    )
    if not isinstance(data, Mapping):
        raise ImportConfigError(
            "not a promptfoo config (expected a mapping with prompts, providers, tests)",
            path=path,
            line=1,
            hint="pass promptfooconfig.yaml",
        )
    reader = Reader(path, key_lines(node), ImportResult())
    for key in data:
        if key not in _CONVERTED_KEYS:
            reader.skip(str(key), f"top-level key {key!r}")
    # promptfoo's conventional file name says nothing; its folder usually does
    stem = name or _family(
        path.stem if path.stem != "promptfooconfig" else path.resolve().parent.name
    )
    prompts = _prompts(reader, data.get("prompts"), stem)
    if not prompts:
        raise reader.fail("prompts", "no prompt could be converted", "add a text prompt")
    found_models = models(reader, data.get("providers"))
    tests = _tests(reader, data, judge(reader, data, found_models))
    if not tests:
        raise reader.fail("tests", "no test could be converted", "add tests with vars")
    _write_all(reader, Path(out_dir), stem, prompts, found_models, tests, data.get("description"))
    return reader.result


def _family(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in text).strip("_-")
    return cleaned or "imported"


# -- prompts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prompt:
    family: str
    body: str
    inputs: list[str]
    description: str


def _prompts(reader: Reader, spec: Any, stem: str) -> list[_Prompt]:
    entries = spec if isinstance(spec, list) else [spec] if spec is not None else []
    found: list[_Prompt] = []
    for index, entry in enumerate(entries):
        key = f"prompts[{index}]" if isinstance(spec, list) else "prompts"
        family = stem if len(entries) == 1 else f"{stem}_{index + 1}"
        try:
            found.append(_prompt(reader, entry, family))
        except Unconverted as exc:
            reader.skip(key, f"prompt: {exc}")
    return found


def _prompt(reader: Reader, entry: Any, family: str) -> _Prompt:
    label = None
    if isinstance(entry, Mapping):
        label, entry = entry.get("label"), entry.get("raw", entry.get("id"))
    if not isinstance(entry, str):
        raise Unconverted("expected text, file://, or {raw: ..., label: ...}")
    messages = [("user", entry)]
    if entry.startswith("file://"):
        messages = _prompt_file(reader, entry)
    bodies = [to_jinja(text) for _, text in messages]
    inputs = sorted(set().union(*(_variables(body) for body in bodies)))
    blocks = [
        f'{{% message "{role}" %}}{body}{{% endmessage %}}'
        for (role, _), body in zip(messages, bodies, strict=True)
    ]
    what = str(label) if label else f"imported from {reader.path.name}"
    return _Prompt(family, "\n".join(blocks) + "\n", inputs, what)


def _prompt_file(reader: Reader, ref: str) -> list[tuple[str, str]]:
    target = reader.resolve(ref)
    if any(c in ref for c in "*?[") or ":" in ref.removeprefix("file://"):
        raise Unconverted(f"{ref}: globs and function prompts are not converted")
    if not is_file(target):
        raise Unconverted(f"{ref}: file not found")
    text = read_text(target, error=ImportConfigError)
    if target.suffix.lower() != ".json":
        if "\n---\n" in text:
            raise Unconverted(f"{ref}: several prompts in one file ('---') are not converted")
        return [("user", text.strip("\n"))]
    messages = load_json(text, path=target, error=ImportConfigError)
    if not isinstance(messages, list) or not messages:
        raise Unconverted(f"{ref}: a JSON prompt must be a list of chat messages")
    return [_message(ref, m) for m in messages]


def _message(ref: str, message: Any) -> tuple[str, str]:
    if not isinstance(message, Mapping) or message.get("role") not in _ROLES:
        raise Unconverted(f"{ref}: each message needs a role ({', '.join(_ROLES)})")
    if not isinstance(message.get("content"), str):
        raise Unconverted(f"{ref}: only text message content is converted")
    return str(message["role"]), str(message["content"])


def _variables(body: str) -> set[str]:
    try:
        return set(jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(body)))
    except jinja2.TemplateSyntaxError as exc:
        raise Unconverted(f"template does not parse as Jinja: {exc.message}") from None


# -- tests ----------------------------------------------------------------------------------


def _tests(reader: Reader, data: Mapping[str, Any], judge_model: str | None) -> list[_Test]:
    default = data.get("defaultTest") or {}
    if not isinstance(default, Mapping):
        raise reader.fail("defaultTest", "defaultTest must be a mapping", "write vars/assert")
    for extra in sorted(set(default) - {"vars", "assert", "options"}):
        reader.skip(f"defaultTest.{extra}", f"defaultTest key {extra!r}")
    options = default.get("options") or {}
    for extra in sorted(set(options) - {"provider"} if isinstance(options, Mapping) else []):
        reader.skip(f"defaultTest.options.{extra}", f"defaultTest option {extra!r}")
    base_vars = _vars(reader, "defaultTest.vars", default.get("vars"))
    base = _assertions(reader, "defaultTest.assert", default.get("assert"), judge_model)
    tests: list[_Test] = []
    for index, (test, where) in enumerate(_test_entries(reader, data.get("tests"))):
        test_reader, key = where
        for extra in sorted(set(test) - {"vars", "assert", "description", "options"}):
            test_reader.skip(f"{key}.{extra}", f"test key {extra!r}")
        if test.get("options"):
            test_reader.skip(f"{key}.options", "test options")
        own_vars = _vars(test_reader, f"{key}.vars", test.get("vars"))
        own = _assertions(test_reader, f"{key}.assert", test.get("assert"), judge_model)
        values = {**base_vars, **own_vars}
        scorers = [_templated(test_reader, key, s, values) for s in [*base, *own]]
        tests.append(_Test(index + 1, values, scorers))
    return tests


def _templated(reader: Reader, key: str, scorer: Converted, values: dict[str, Any]) -> Converted:
    """promptfoo renders assertion values with the test's vars (``contains: "{{ city }}"``);
    the value is rendered here, once per test, so the dataset column holds the text."""

    def render(text: Any) -> Any:
        if not isinstance(text, str) or ("{{" not in text and "{%" not in text):
            return text
        try:
            return _SANDBOX.from_string(to_jinja(text)).render(values)
        except jinja2.TemplateError as exc:
            reader.skip(key, f"assertion value {text!r} kept as written: {exc}")
            return text

    found = scorer.value
    value = [render(v) for v in found] if isinstance(found, list) else render(found)
    return dataclasses.replace(scorer, value=value)


_SANDBOX = jinja2.sandbox.SandboxedEnvironment()


def _test_entries(reader: Reader, spec: Any) -> list[tuple[Mapping[str, Any], tuple[Reader, str]]]:
    if isinstance(spec, str) and spec.startswith("file://"):
        return _test_file(reader, spec)
    if not isinstance(spec, list):
        raise reader.fail("tests", "tests must be a list or a file:// path", "list tests")
    found = []
    for index, test in enumerate(spec):
        key = f"tests[{index}]"
        if isinstance(test, str) and test.startswith("file://"):
            found.extend(_test_file(reader, test))
        elif isinstance(test, Mapping):
            found.append((test, (reader, key)))
        else:
            reader.skip(key, "a test that is not a mapping")
    return found


def _test_file(reader: Reader, ref: str) -> list[tuple[Mapping[str, Any], tuple[Reader, str]]]:
    target = reader.resolve(ref)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        rows = load_dataset(target).rows
        sub = Reader(target, {f"[{i}]": row.line or 0 for i, row in enumerate(rows)}, reader.result)
        return [
            (_csv_test(sub, f"[{i}]", dict(row.data)), (sub, f"[{i}]"))
            for i, row in enumerate(rows)
        ]
    if not is_file(target):
        raise ImportConfigError("tests file not found", path=target, hint="check the file:// path")
    text = read_text(target, error=ImportConfigError)
    lines: Mapping[str, int] = {}
    if suffix == ".json":
        tests = load_json(text, path=target, error=ImportConfigError)
    else:
        tests, node = parse_yaml(text, path=target, error=ImportConfigError)
        lines = key_lines(node)
    if not isinstance(tests, list) or not all(isinstance(t, Mapping) for t in tests):
        raise ImportConfigError(
            "a tests file must be a list of tests", path=target, hint="list tests"
        )
    sub = Reader(target, lines, reader.result)
    return [(test, (sub, f"[{i}]")) for i, test in enumerate(tests)]


def _csv_test(reader: Reader, key: str, row: dict[str, Any]) -> Mapping[str, Any]:
    """A CSV row: columns are vars; ``__expected`` columns are assertions (``contains: x``)."""
    asserts = []
    for column in [c for c in row if c.startswith("__expected")]:
        value = str(row.pop(column))
        kind, _, rest = value.partition(":")
        if rest and kind.strip() in _CSV_KINDS:
            asserts.append({"type": kind.strip(), "value": rest.strip()})
        elif value.strip() in ("is-json", "contains-json"):
            asserts.append({"type": value.strip()})
        elif value:
            asserts.append({"type": "equals", "value": value})
    for column in [c for c in row if c.startswith("__")]:
        reader.skip(key, f"CSV column {column!r}")
        row.pop(column)
    return {"vars": row, "assert": asserts}


_CSV_KINDS = {
    "equals", "contains", "icontains", "contains-any", "contains-all", "regex",
    "starts-with", "levenshtein", "similar", "llm-rubric", "javascript", "python",
}  # fmt: skip


def _vars(reader: Reader, key: str, spec: Any) -> dict[str, Any]:
    if spec is None:
        return {}
    if isinstance(spec, str) and spec.startswith("file://"):
        target = reader.resolve(spec)
        if not is_file(target):
            raise reader.fail(key, f"vars file {spec} not found", "check the file:// path")
        text = read_text(target, error=ImportConfigError)
        if target.suffix.lower() == ".json":
            spec = load_json(text, path=target, error=ImportConfigError)
        else:
            spec, _ = parse_yaml(text, path=target, error=ImportConfigError)
    if not isinstance(spec, Mapping):
        raise reader.fail(key, "vars must be a mapping", "write vars: {name: value}")
    found: dict[str, Any] = {}
    for name, value in spec.items():
        if isinstance(value, str) and value.startswith("file://"):
            target = reader.resolve(value)
            if is_file(target) and target.suffix.lower() in (".txt", ".md", ""):
                value = read_text(target, error=ImportConfigError)
            else:
                reader.skip(
                    f"{key}.{name}", f"var {name!r} from {value} (only text files are read)"
                )
                continue
        elif isinstance(value, list):
            reader.skip(f"{key}.{name}", f"var {name!r}: a list of values (one test per value)")
            continue
        found[str(name)] = value
    return found


def _assertions(reader: Reader, key: str, spec: Any, judge: str | None) -> list[Converted]:
    if spec is None:
        return []
    if not isinstance(spec, list):
        raise reader.fail(key, "assert must be a list", "write assert: [{type: ..., value: ...}]")
    found = []
    for index, entry in enumerate(spec):
        try:
            found.append(convert_assertion(entry, judge))
        except Unconverted as exc:
            reader.skip(f"{key}[{index}]", str(exc))
    return found


# -- writing --------------------------------------------------------------------------------


def _write_all(
    reader: Reader,
    out: Path,
    stem: str,
    prompts: list[_Prompt],
    models: list[Any],
    tests: list[_Test],
    description: Any,
) -> None:
    groups: dict[tuple[str, ...], list[_Test]] = {}
    for test in tests:
        groups.setdefault(tuple(s.key() for s in test.scorers), []).append(test)
    inputs = sorted(set().union(*(p.inputs for p in prompts)))
    files: dict[Path, str] = {}
    for prompt in prompts:
        front = {"description": prompt.description, "inputs": prompt.inputs}
        text = "---\n" + _yaml(front) + "---\n" + prompt.body
        files[out / "prompts" / prompt.family / "v1.jinja"] = text
    for number, group in enumerate(groups.values(), 1):
        name = stem if number == 1 else f"{stem}_{number}"
        rows = [_row(reader, test, inputs) for test in group]
        files[out / "datasets" / f"{name}.jsonl"] = "".join(
            json.dumps(row, ensure_ascii=False) + "\n" for row in rows
        )
        suite = _suite(reader, name, group[0].scorers, prompts, models, inputs, description)
        files[out / "evals" / f"{name}.yaml"] = _yaml(suite)
        reader.result.suites.append(out / "evals" / f"{name}.yaml")
    existing = [p for p in files if p.exists()]
    if existing:
        raise ImportConfigError(
            "would overwrite an existing file", path=existing[0], hint="remove it or use -o DIR"
        )
    for target, text in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        reader.result.written.append(target)


def _row(reader: Reader, test: _Test, inputs: list[str]) -> dict[str, Any]:
    # every var is kept, used by a prompt or not: nothing the user wrote is lost
    row: dict[str, Any] = {"test_id": f"test{test.index}", **test.vars}
    for name in inputs:
        if name not in test.vars:
            # promptfoo renders a missing var as empty text; say so rather than guess quietly
            reader.result.skipped.append(
                Skipped(
                    str(reader.path), None, f"test {test.index} has no var {name!r}; written as ''"
                )
            )
        row[name] = test.vars.get(name, "")
    for slot, scorer in enumerate(test.scorers, 1):
        if scorer.value is not None:
            row[f"assert_{slot}"] = scorer.value
    return row


def _suite(
    reader: Reader,
    name: str,
    scorers: list[Converted],
    prompts: list[_Prompt],
    models: list[Any],
    inputs: list[str],
    description: Any,
) -> dict[str, Any]:
    suite: dict[str, Any] = {
        "description": str(description or f"Imported from promptfoo ({name})"),
        "dataset": {"path": f"../datasets/{name}.jsonl", "id": "test_id"},
        "inputs": inputs,
        "prompts": [f"{p.family}@v1" for p in prompts],
    }
    if models:
        suite["models"] = models
    entries = []
    for slot, scorer in enumerate(scorers, 1):
        args = dict(scorer.args)
        if scorer.as_reference:
            if "reference" in suite:  # one reference column per suite
                raise ImportConfigError(
                    "two 'similar' assertions in one test: promptkit compares with one reference",
                    path=reader.path,
                    hint="keep one 'similar' per test",
                )
            suite["reference"] = f"assert_{slot}"
        elif scorer.value is not None:
            args["column"] = f"assert_{slot}"
        args["metric"] = scorer.metric or f"{scorer.scorer}_{slot}"
        entries.append({scorer.scorer: args})
    suite["scorers"] = entries
    return suite


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
