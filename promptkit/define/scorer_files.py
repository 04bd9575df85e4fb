"""A suite's ``scorer_files``: Python files that register the suite's own scorers.

Each file is read (bad bytes are one line), then run as a module; an error in it is
the file's, named with its line.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptkit.define.files import is_file, read_python_source
from promptkit.define.validate import Where, string_list
from promptkit.errors import BadInput, SuiteError

__all__ = ["load_scorer_files"]


def load_scorer_files(files: Any, where: Where, resolve: Callable[[str], Path]) -> None:
    """Import each file ``files`` names (suite-relative paths, ``resolve`` makes them whole)."""
    for index, name in enumerate(string_list(files, where, what="Python file paths")):
        file = resolve(name)
        if not is_file(file):
            raise where.at(index).fail(f"scorer file {file} not found", "fix the path")
        read_python_source(file, error=SuiteError)
        _import_scorer_file(file)


def _import_scorer_file(file: Path) -> None:
    """Run a suite's scorer file; any failure in it is the file's, named with its line."""
    spec = importlib.util.spec_from_file_location(f"promptkit_user.{file.stem}", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise SuiteError(
            f"syntax error in scorer file: {exc.msg}",
            path=file,
            line=exc.lineno,
            hint="fix the Python syntax",
        ) from None
    except BadInput:
        raise
    except Exception as exc:  # the file's own code failed as it was imported
        raise SuiteError(
            f"scorer file failed to import: {type(exc).__name__}: {exc}",
            path=file,
            line=_line_in(exc, file),
            hint="fix the error in the file",
        ) from None


def _line_in(exc: BaseException, file: Path) -> int | None:
    """The last line of ``file`` the traceback passed through."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
