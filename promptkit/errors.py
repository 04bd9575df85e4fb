"""Every error a user can see is a subclass of :class:`PromptkitError`.

    PromptkitError                 exit code 4 when raised bare (a bug in promptkit)
    ├── BadInput                   exit code 2: something the user wrote must change
    │   ├── PromptError            a prompt file (front matter, Jinja, reference)
    │   ├── SuiteError             an eval suite YAML file
    │   ├── DatasetError           a dataset or example pool file
    │   └── ProviderConfigError    unknown prefix, missing model file, missing extra
    ├── ProviderError              exit code 3: a model call failed at run time
    └── GateFailed                 exit code 1: a quality gate rule did not hold

The CLI turns any of these into one line on stderr: ``file:line: message (fix)``.
Messages and hints are redacted as the error is made (:func:`promptkit.redact.redact`),
so no key an error quotes (a provider's echoed request, an ``api_base``) travels further.
"""

from __future__ import annotations

from pathlib import Path

from promptkit.redact import redact

__all__ = [
    "BadInput",
    "DatasetError",
    "GateFailed",
    "PromptError",
    "PromptkitError",
    "ProviderConfigError",
    "ProviderError",
    "SuiteError",
    "yaml_problem",
]


class PromptkitError(Exception):
    """Base of every promptkit error; carries where it happened and how to fix it."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = redact(hint) if hint else hint

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        fix = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{fix}"


class BadInput(PromptkitError):
    exit_code = 2


class PromptError(BadInput):
    pass


class SuiteError(BadInput):
    pass


class DatasetError(BadInput):
    pass


class ProviderConfigError(BadInput):
    pass


class ProviderError(PromptkitError):
    """A model call failed. ``retryable`` tells the runner whether to try again;
    ``unreachable`` says no connection could be made at all (refused, no such host)."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.unreachable = unreachable


class GateFailed(PromptkitError):
    exit_code = 1


def yaml_problem(exc: Exception, *, first_line: int = 1) -> tuple[str, int | None]:
    """What PyYAML found wrong, and on which line of the file (None when it does not say).

    ``first_line`` is the file line the parsed text starts on (front matter: 2).
    """
    mark = getattr(exc, "problem_mark", None)
    return str(getattr(exc, "problem", exc)), mark.line + first_line if mark is not None else None
