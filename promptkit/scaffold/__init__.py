"""Starting a project: ``promptkit init`` and the dataset split it uses.

A scaffold sits above everything it writes for: it reads datasets with
:mod:`promptkit.define.datasets` and writes files that the suite, the runner and
the CI flow read later, so nothing below imports it.
"""

from promptkit.scaffold.project import DEFAULT_MODEL, InitResult, init_project
from promptkit.scaffold.split import Split, split_rows

__all__ = ["DEFAULT_MODEL", "InitResult", "Split", "init_project", "split_rows"]
