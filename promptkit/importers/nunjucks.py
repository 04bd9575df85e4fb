"""Nunjucks (promptfoo's template language) -> Jinja.

The two share ``{{ var }}``, ``{% if %}``/``{% for %}``/``{% set %}``, ``{% raw %}``,
``loop.index`` and most filters, so a template converts by rewriting the few
differences below; anything else is left as written and reported by Jinja's parser
(an unknown filter names itself).

- ``| dump`` / ``| dump(2)`` -> ``| tojson`` / ``| tojson(2)`` (JSON of a value);
- ``{% elseif %}`` -> ``{% elif %}``;
- ``| safe`` and ``| escape`` are kept: both exist in Jinja (promptkit never escapes);
- ``{% raw %}`` and ``{% verbatim %}`` -> ``{% raw %}``.
"""

from __future__ import annotations

import re

__all__ = ["to_jinja"]

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\|\s*)dump\b"), r"\1tojson"),
    (re.compile(r"{%(-?)\s*elseif\b"), r"{%\1 elif"),
    (re.compile(r"{%(-?)\s*verbatim\s*(-?)%}"), r"{%\1 raw \2%}"),
    (re.compile(r"{%(-?)\s*endverbatim\s*(-?)%}"), r"{%\1 endraw \2%}"),
)


def to_jinja(template: str) -> str:
    """The Jinja spelling of a Nunjucks template (see the module notes for what changes)."""
    for pattern, replacement in _REWRITES:
        template = pattern.sub(replacement, template)
    return template
