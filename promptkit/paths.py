"""Where promptkit keeps its files. Below every stage, so each can name them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_ROOT"]

#: Run folders live here; the response cache sits beside it in ``.promptkit/cache``.
DEFAULT_ROOT = Path(".promptkit") / "runs"
