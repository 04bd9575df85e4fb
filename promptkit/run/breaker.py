"""Stop asking a model that cannot answer: a dead endpoint, a bad key, a wrong name.

Retrying each case against a closed port or a refused key costs minutes on a big
run and says the same thing 500 times. After :data:`BREAK_AFTER` attempts in a
row to one model fail that way, the model's breaker opens: cases not yet sent
become error rows ``not asked: <reason>`` at once, cases waiting to retry give
up, and the run ends in seconds. Any other reply (an answer, a 429, a 500)
shows the server is there and resets the count. Error rows are asked again by
``--resume``, so nothing is lost once the endpoint is back.
"""

from __future__ import annotations

from promptkit.errors import ProviderError

__all__ = ["BREAK_AFTER", "Breaker", "is_refusal"]

#: Consecutive unreachable/refused attempts to one model that stop the run asking it.
BREAK_AFTER = 8
#: Statuses that mean every request will fail the same way: bad key, forbidden, no such model.
REFUSING_STATUS = frozenset({401, 403, 404})


def is_refusal(error: ProviderError) -> bool:
    """True when ``error`` says the model cannot be reached or will refuse every request."""
    return error.unreachable or error.status in REFUSING_STATUS


class Breaker:
    """Counts one model's consecutive refusals; open after :data:`BREAK_AFTER`."""

    def __init__(self, model: str, threshold: int = BREAK_AFTER) -> None:
        self.model = model
        self.threshold = threshold
        self.in_a_row = 0
        self.reason: str | None = None  # set once open, never closed within a run

    def failed(self, error: ProviderError) -> None:
        if not is_refusal(error):
            self.in_a_row = 0
            return
        self.in_a_row += 1
        if self.reason is None and self.in_a_row >= self.threshold:
            self.reason = (
                f"{self.model} failed {self.in_a_row} attempts in a row, "
                f"the last with: {error.message}"
            )

    def succeeded(self) -> None:
        self.in_a_row = 0

    def stop_retrying(self) -> str | None:
        """Why a case waiting to retry should give up now; None while closed."""
        if self.reason is None:
            return None
        return f"not retried: {self.model} is no longer asked after {self.threshold} such failures"

    def check(self) -> None:
        """Raise the ``not asked`` error once open."""
        if self.reason is not None:
            raise ProviderError(f"not asked: {self.reason}")
