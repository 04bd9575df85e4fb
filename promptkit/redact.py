"""Secrets never reach a file or the console: the one redactor every outgoing string passes.

promptkit reads API keys (from the variable a model entry names in ``api_key_env``,
from a provider's usual variables such as ``OPENAI_API_KEY``, or from the model
entry itself) and endpoints that may carry ``user:password@``. A provider's error
body can echo the whole request, ``Authorization`` header included, so any text a
provider hands back may hold a key. :func:`redact` masks

* every key value promptkit has read (:func:`remember_secret`, :func:`remember_options`,
  :func:`remember_environment`), raw and as JSON writes it;
* the password of every ``scheme://user:password@`` URL;
* the value after an ``Authorization:`` header, a long ``Bearer`` token and a
  ``?key=`` / ``?api_key=`` / ``?token=`` query value, for keys read by someone else.

It runs where such text is made (a :class:`~promptkit.errors.PromptkitError`'s
message, a provider's error text before it is cut short, the options recorded in
``meta.json``) and once more where a run folder is written, so the journal, meta,
summary and everything read from them (reports, JUnit, Markdown, the console) hold
masked text only. Values shorter than :data:`MIN_SECRET_LENGTH` are not masked: a
real key is longer, and masking a short word everywhere would garble the text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "clip",
    "is_secret_name",
    "public",
    "redact",
    "remember_environment",
    "remember_options",
    "remember_secret",
]

MASK = "[redacted]"
MIN_SECRET_LENGTH = 8

# A name ends in one of these words: OPENAI_API_KEY, hf_token, api_key, password.
# ``max_tokens`` and ``token_budget`` do not; ``api_key_env`` (a variable's name) does not.
# Not "pwd": the shell's PWD and OLDPWD are the working directory, not a password.
_SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(?:api_?key|key|token|secret|password|passwd|credentials?|authorization)$",
    re.IGNORECASE,
)
# The password of scheme://user:password@host; no quote or backslash, so JSON stays whole.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:\"'\\<>]*:)[^\s/\"'\\<>]+@")
_AUTH_HEADER = re.compile(
    r"(?P<head>authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|digest|token)\s+)?)"
    r"[^\s\"',;}\\]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)[A-Za-z0-9._~+/\-]{16,}=*", re.IGNORECASE)
_QUERY_KEY = re.compile(
    r"(?P<head>[?&](?:api[_\-]?key|key|token|access_token)=)[^&\s\"'\\#]+", re.IGNORECASE
)

_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None


def is_secret_name(name: object) -> bool:
    """Whether an option or variable of this name holds a credential."""
    return bool(_SECRET_NAME.search(str(name)))


def remember_secret(value: object) -> None:
    """Mask ``value`` from now on wherever it appears (keys promptkit read or was given)."""
    global _known_pattern
    if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
        return
    value = value.strip()
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    if not forms <= _known:
        _known.update(forms)
        _known_pattern = None


def remember_environment() -> None:
    """Remember every credential-named environment variable (litellm and client libraries
    read ``ANTHROPIC_API_KEY``, ``HF_TOKEN`` ... themselves, so promptkit cannot list them)."""
    for name, value in os.environ.items():
        if is_secret_name(name):
            remember_secret(value)


def remember_options(options: Mapping[str, Any]) -> None:
    """Remember the secrets of a model entry: credential-named values, the variables its
    ``*_env`` options name (``api_key_env``), and the password of its ``api_base``."""
    for name, value in options.items():
        if is_secret_name(name):
            remember_secret(value)
        elif str(name).endswith("_env") and is_secret_name(str(name)[: -len("_env")]):
            remember_secret(os.environ.get(str(value)))
        elif isinstance(value, str) and "://" in value:
            remember_secret(_url_password(value))


def _url_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _secrets_pattern() -> re.Pattern[str] | None:
    global _known_pattern
    if _known_pattern is None and _known:
        longest_first = sorted(_known, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(s) for s in longest_first))
    return _known_pattern


def redact(text: str) -> str:
    """``text`` with every known secret and credential-looking value masked."""
    if not text:
        return text
    known = _secrets_pattern()
    if known is not None and any(s in text for s in _known):
        text = known.sub(MASK, text)
    if "://" in text and "@" in text:
        text = _USERINFO.sub(rf"\g<head>{MASK}@", text)
    lowered = text.lower()
    if "authorization" in lowered:
        text = _AUTH_HEADER.sub(rf"\g<head>{MASK}", text)
    if "bearer" in lowered:
        text = _BEARER.sub(rf"\g<head>{MASK}", text)
    if "=" in text and ("?" in text or "&" in text):
        text = _QUERY_KEY.sub(rf"\g<head>{MASK}", text)
    return text


def clip(text: str, limit: int) -> str:
    """Redact, then cut to ``limit`` characters: cutting first could leave half a key."""
    return redact(text)[:limit]


def public(data: Any) -> Any:
    """``data`` as it may be recorded: credential-named values masked, every string redacted."""
    if isinstance(data, Mapping):
        return {
            k: MASK if is_secret_name(k) and v not in (None, "") else public(v)
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [public(v) for v in data]
    if isinstance(data, str):
        return redact(data)
    return data
