"""Render limits: a template cannot exhaust memory or time, and the error says which
limit it hit, in one line naming the file and the line.

Each payload class is tried under small limits (10,000 characters, 0.2 s), so every
case trips in a fraction of a second; the same checks hold the defaults (1,000,000
characters, 2 s) to the same rules.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from promptkit import BadInput, PromptError
from promptkit.define.limits import LIMIT_ENV, RenderLimits, render_budget
from promptkit.define.prompts import Prompt
from tests.conftest import CliResult, write

SMALL = RenderLimits(max_chars=10_000, max_seconds=0.2)
TEXT = ("a review of a product, " * 20).strip()  # 459 characters


def prompt(body: str, path: str = "prompts/p/v1.jinja") -> Prompt:
    source = f'---\ninputs: [text]\n---\n{{% message "user" %}}\n{body}\n{{% endmessage %}}\n'
    return Prompt(family="p", version=1, source=source, path=path)


def render_error(body: str, limits: RenderLimits = SMALL) -> PromptError:
    with pytest.raises(PromptError) as caught:
        prompt(body).render({"text": TEXT}, limits=limits)
    return caught.value


SIZE = "characters, over the limit of 10,000"
PAYLOADS = {
    # repeats and concatenation
    "str repeat": ("{{ text * 10**8 }}", "a repeat with * would make 45,900,000,000 " + SIZE),
    "literal repeat": ("{{ 'a' * 10**9 }}", "a repeat with *"),
    "list repeat": ("{{ ([1] * 10**9)|length }}", "a repeat with * would make 1,000,000,000 items"),
    "doubling ~": (
        "{% set ns = namespace(s=text) %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}",
        "a concatenation with ~",
    ),
    "doubling +": (
        "{% set ns = namespace(s=[1]) %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}",
        "a concatenation with +",
    ),
    "list.extend": (
        "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{{ ns.l.extend(ns.l) }}"
        "{% endfor %}",
        "list.extend would make",
    ),
    # padding, formatting and the filters that multiply
    "center filter": ("{{ text|center(10**9) }}", "the center filter"),
    "str.ljust": ("{{ text.ljust(10**9) }}", "str.ljust"),
    "str.format width": ("{{ '{:>1000000000}'.format(text) }}", "a str.format"),
    "percent width": ("{{ '%1000000000s' % text }}", "a % format"),
    "format filter": ("{{ '%1000000000s'|format(text) }}", "a % format"),
    "replace blowup": ("{{ text|replace('', text) }}", "the replace filter"),
    "join blowup": ("{{ range(1000)|join(text) }}", "the join filter"),
    "str.join blowup": ("{{ text.join(range(1000)|map('string')) }}", "str.join"),
    "indent blowup": ("{{ (text ~ '\\n')|indent(10**6) }}", "the indent filter"),
    "batch fill": ("{{ [1]|batch(10**9, 0)|list }}", "the batch filter"),
    "lipsum": ("{{ lipsum(10**6) }}", "lipsum()"),
    # containers whose text is far bigger than their number of items
    "list of big strings": ("{{ ['a' * 9999] * 30 }}", "a repeat with * would make"),
    "~ a list of big strings": ("{{ text ~ (['a' * 9999] * 30) }}", "a repeat with * would make"),
    "translate with a list": (
        "{{ ('a' * 1000).translate(['b' * 99] * 90) }}",
        "str.translate would make",
    ),
    "dict.fromkeys": ("{{ {}.fromkeys(range(3000), 'a' * 9999)|string }}", "dict.fromkeys"),
    "a list built unseen": (
        "{% set ns = namespace(l=[]) %}{% for i in range(5) %}{{ ns.l.append('a' * 2500) }}"
        "{% endfor %}{{ ns.l|string }}",
        "the string filter would make",
    ),
    # big numbers and ranges
    "huge power": ("{{ 10**10000000 }}", "** would make a number of about 10,000,000 digits"),
    "squaring loop": (
        "{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
        "{% endfor %}",
        "* would make a number of about",
    ),
    "huge range": ("{% for i in range(10**12) %}{% endfor %}", "range() of 1,000,000,000,000"),
    # many small pieces
    "static text in a loop": (
        "{% for i in range(100000) %}" + "x" * 100 + "{% endfor %}",
        "the template made over 100,000 characters of text while rendering",
    ),
    "fresh values kept": (
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{{ ns.l.append(text ~ i) }}"
        "{% endfor %}",
        "the template made over 100,000 characters",
    ),
    # time
    "nested ranges": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "rendering ran past 0.2s",
    ),
    "binary recursion": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(60) }}",
        "rendering ran past 0.2s",
    ),
}


@pytest.mark.parametrize("body, message", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_each_payload_trips_a_named_limit(body: str, message: str) -> None:
    error = render_error(body)
    assert str(error).startswith("prompts/p/v1.jinja:5: render limit: ")
    assert message in error.message
    assert error.hint and "\n" not in str(error)


def test_the_rendered_request_is_capped_even_when_each_value_is_small() -> None:
    error = render_error("{% for i in range(30) %}{{ text }}{% endfor %}")
    assert error.message == (
        "render limit: the rendered request is 13,770 characters, over the limit of 10,000"
    )
    assert LIMIT_ENV in (error.hint or "")


def test_a_prompt_under_the_limits_renders_unchanged() -> None:
    body = (
        "{% for e in examples %}{{ loop.index }}/{{ loop.length }}: {{ e.text ~ '!' }}\n"
        "{% endfor %}{{ '%.2f'|format(3.14159) }} {{ '{}-{}'.format(1, 2) }} "
        "{{ text|center(500)|trim|length }} {{ [1, 2] * 3 }} {{ 2 ** 64 }} {{ range(3)|list }}"
    )
    examples = [{"text": f"ex{i}"} for i in range(3)]
    [message] = prompt(body).render({"text": TEXT}, examples, limits=SMALL)
    assert message.content == (
        "1/3: ex0!\n2/3: ex1!\n3/3: ex2!\n"
        "3.14 1-2 459 [1, 2, 1, 2, 1, 2] 18446744073709551616 [0, 1, 2]"
    )


def test_the_limit_is_set_by_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    body = "{{ text * 3000 }}"  # 1,377,000 characters: over the default, under 2,000,000
    with pytest.raises(PromptError, match="over the limit of 1,000,000"):
        prompt(body).render({"text": TEXT})
    monkeypatch.setenv(LIMIT_ENV, "2000000")
    [message] = prompt(body).render({"text": TEXT})
    assert len(message.content) == 1_377_000
    monkeypatch.setenv(LIMIT_ENV, "lots")
    with pytest.raises(BadInput, match=f"{LIMIT_ENV}='lots' is not a positive number"):
        prompt(body).render({"text": TEXT})


def test_an_error_without_a_message_still_says_what_happened() -> None:
    template = prompt("{{ text }}")
    assert template._runtime_error(MemoryError()).message == (
        "render limit: out of memory while rendering"
    )
    assert template._runtime_error(KeyError()).message == "template error: KeyError"


def test_the_cli_reports_a_limit_in_one_line(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    write(
        tmp_path / "prompts" / "bomb" / "v1.jinja",
        '{% message "user" %}{{ "a" * 10**9 }}{% endmessage %}\n',
    )
    code, out, err = cli("render", "bomb@v1")
    assert code == 2 and out == ""
    assert err.strip() == (
        f"promptkit: error: {Path('prompts/bomb/v1.jinja')}:1: render limit: a repeat with * "
        "would make 1,000,000,000 characters, over the limit of 1,000,000 "
        f"(make the output smaller, or raise the limit with {LIMIT_ENV}=<characters>)"
    )


SAME_AS_JINJA = [
    "{% for x in items recursive %}[{{ x.n }}{% if x.kids %}{{ loop(x.kids) }}{% endif %}]"
    "{% endfor %}",
    "{% for x in [] %}never{% else %}empty{% endfor %} {% for k, v in pairs|dictsort %}"
    "{{ k }}={{ v }}{{ ',' if not loop.last }}{% endfor %}",
    "{{ words|map('upper')|join(' ') }} {{ items|selectattr('kids')|list|length }} "
    "{{ items|sum(attribute='n') }} {{ words|batch(2)|list }} {{ words|slice(2)|list }}",
    "{{ pairs|tojson }} {{ 'x'|center(7) }}|{{ words|join(', ')|wordwrap(8) }}|"
    "{{ 'a\nb'|indent(2, first=true) }}|{{ 'abcabc'|replace('b', 'BB') }}",
    "{% set ns = namespace(t='') %}{% for w in words %}{% set ns.t = ns.t ~ w ~ loop.index %}"
    "{% endfor %}{{ ns.t }} {{ '%s-%05.1f' % ('a', 2.5) }} {{ '{0}:{1:>4}'.format('k', 7) }}",
    "{% macro row(x) %}<{{ x }}>{% endmacro %}{% for w in words %}{{ row(w) }}{% endfor %}"
    "{% filter upper %}shout {{ words[0] }}{% endfilter %}{% raw %}{{ kept }}{% endraw %}",
    "{{ (words * 2)|length }} {{ words + ['z'] }} {{ 2 ** 10 }} {{ 7 % 3 }} {{ 'ab' * 3 }} "
    "{{ range(2, 9, 3)|list }} {{ cycler('a', 'b').next() }} {{ words|first|title }}",
]


@pytest.mark.parametrize("body", SAME_AS_JINJA)
def test_legit_templates_render_as_plain_jinja_does(body: str) -> None:
    from jinja2.sandbox import SandboxedEnvironment

    from promptkit.define.sandbox import LimitedSandbox

    data = {
        "items": [{"n": 1, "kids": [{"n": 2, "kids": []}]}, {"n": 3, "kids": []}],
        "pairs": {"b": 2, "a": 1},
        "words": ["alpha", "beta", "gamma"],
    }
    plain = SandboxedEnvironment().from_string(body).render(data)
    with render_budget(SMALL):
        limited = LimitedSandbox().from_string(body).render(data)
    assert limited == plain


CONTAINER_BOMBS = [
    "{{ ['a' * 999999] * 300 }}",
    "{{ text ~ (['a' * 999999] * 300) }}",
    "{{ ('a' * 1000).translate(['b' * 999999] * 98) }}",
    "{{ {}.fromkeys(range(3000), 'a' * 999999)|string }}",
]


@pytest.mark.parametrize("body", CONTAINER_BOMBS)
def test_a_container_is_sized_before_its_text_is_built(body: str) -> None:
    # Under the default cap each bomb must trip on sizing, before str() builds
    # hundreds of MB (or translate its result): the peak stays near the single 1 MB string.
    tiny = RenderLimits(max_chars=1_000_000, max_seconds=5)
    tracemalloc.start()
    try:
        error = render_error(body, tiny)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(error).startswith("prompts/p/v1.jinja:5: render limit: ")
    assert "over the limit of 1,000,000" in str(error)
    assert "\n" not in str(error)
    assert peak < 20_000_000
