"""How long `promptkit check` takes on a large prompt library, and what git costs in it.

Builds a temporary git repository with FAMILIES x VERSIONS prompt files, edits
one released version in place, and times the validation and, apart, the
immutability rule (one `git ls-tree` and one `git hash-object --stdin-paths` for
every version file). Best of 5; the machine is shared, so expect noise.

Run: PYTHONPATH=. python bench/bench_check.py [FAMILIES] [VERSIONS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from promptkit.ci.check import check_project
from promptkit.ci.gitrefs import GitTree, changed_versions

TEMPLATE = """---
inputs: [text]
parser: {{type: label, labels: [pos, neg]}}
---
{{% message "system" %}}Family {family}, version {version}.{{% endmessage %}}
{{% message "user" %}}{{{{ text }}}}{{% endmessage %}}
"""


def build(root: Path, families: int, versions: int) -> None:
    for f in range(families):
        for v in range(1, versions + 1):
            path = root / "prompts" / f"family{f}" / f"v{v}.jinja"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(TEMPLATE.format(family=f, version=v))
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.com",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "prompts"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    edited = root / "prompts" / "family0" / "v1.jinja"
    edited.write_text(edited.read_text() + "\n")


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    families = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    versions = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        build(root, families, versions)
        os.chdir(root)
        report = check_project([], ["prompts"], against="main")
        assert [p.path for p in report.problems] == ["prompts/family0/v1.jinja"], report.problems
        tree = GitTree(root, "main")
        plain = best_of(5, lambda: check_project([], ["prompts"], use_git=False))
        rule = best_of(5, lambda: changed_versions(tree, root / "prompts"))
    files = families * versions
    print(f"prompt files: {files}")
    per_file = plain / files * 1e6
    print(f"validation (parse, compile, inputs): {plain * 1000:.0f} ms, {per_file:.0f} us/file")
    print(f"immutability rule (ls-tree + one hash-object): {rule * 1000:.0f} ms")


if __name__ == "__main__":
    main()
