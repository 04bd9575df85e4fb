"""Fine-tuning data: a suite's example pool as chat-format training files, and their checks.

tokens.py     token counts (tiktoken, offline encodings) and default epochs
check.py      ``check_finetune``: the cookbook's errors and warnings for any file
finetune.py   ``export_finetune``: pool rows rendered zero-shot, then checked
"""

from promptkit.export.check import (
    COMPLETION_SEPARATOR,
    COMPLETION_STOP,
    DEFAULT_MAX_TOKENS,
    FORMATS,
    FinetuneReport,
    Problem,
    check_finetune,
    check_rows,
)
from promptkit.export.finetune import (
    ExportResult,
    export_finetune,
    finetune_rows,
    usable_pool,
    validation_path,
)
from promptkit.export.tokens import TokenCounter, default_epochs, token_counter

__all__ = [
    "COMPLETION_SEPARATOR",
    "COMPLETION_STOP",
    "DEFAULT_MAX_TOKENS",
    "FORMATS",
    "ExportResult",
    "FinetuneReport",
    "Problem",
    "TokenCounter",
    "check_finetune",
    "check_rows",
    "default_epochs",
    "export_finetune",
    "finetune_rows",
    "token_counter",
    "usable_pool",
    "validation_path",
]
