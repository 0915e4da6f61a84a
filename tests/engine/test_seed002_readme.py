"""Every Python example of seed 002's README, run verbatim with ``ttasks`` -> ``webapp``.

The examples are read from the seed file itself. It keeps the README's text but not its
indentation, so the reader restores it: a line ending in ``:`` opens a block that lasts until
the next blank line (``except``/``else``/``finally``/``elif`` close it and open their own).
Each example runs in a fresh namespace after a short prelude that defines the names the
README leaves to the reader (``executor``, ``task``, ``my_handler``, ...); prompt and agent
examples reach a real chat-completions server on 127.0.0.1 and a test agent script.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SEED_NAME = "002_96f4b4fa48c5a9db.txt"


def _find_seed() -> Path | None:
    """``../shared/seeds/`` next to the checkout (or next to any folder above it)."""
    for folder in Path(__file__).resolve().parents[2:]:
        candidate = folder.parent / "shared" / "seeds" / SEED_NAME
        if candidate.is_file():
            return candidate
    return None


SEED = _find_seed()
_DEDENT = re.compile(r"^(except\b|else\s*:|finally\s*:|elif\b)")

PRELUDE = """
from webapp import InMemoryStore, Task, TaskExecutor, TaskGraph, TaskType

executor = TaskExecutor()
task = Task.bash("echo hello", title="Say hello")
store = InMemoryStore()
store.tasks.save(task)

def my_handler(context):
    return "handled"

parent_task = Task.bash("echo parent", title="parent")
executor.execute(parent_task)
child_task = Task.bash("echo child", title="child")
build = Task.bash("echo build", title="build")
lint, test, docs = (Task.bash(f"echo {n}", title=n) for n in ("lint", "test", "docs"))
graph = TaskGraph(title="preflight")
for member in (lint, test, docs):
    graph.add(member)
"""


def _readme_lines() -> list[str]:
    """The README part of the seed (its first file), one line per ``+`` line."""
    text = SEED.read_text(encoding="utf-8")
    first_file = text.split("\n@@ ", 2)[1]
    return [line[2:] if line.startswith("+ ") else line[1:]
            for line in first_file.splitlines() if line.startswith("+")]  # fmt: skip


def _reindent(lines: list[str]) -> str:
    out, depth, brackets = [], 0, 0
    for line in lines:
        stripped = line.strip()
        if not stripped:
            depth = 0 if brackets == 0 else depth
            out.append("")
            continue
        if brackets == 0 and depth and _DEDENT.match(stripped):
            depth -= 1
        out.append("    " * depth + stripped)
        brackets += sum(stripped.count(c) for c in "([{") - sum(stripped.count(c) for c in ")]}")
        if brackets == 0 and stripped.endswith(":"):
            depth += 1
    return "\n".join(out) + "\n"


def python_examples() -> list[tuple[str, str]]:
    """(section heading, code) of every ```python block, in README order."""
    examples, heading, block = [], "", None
    for line in _readme_lines():
        if block is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            elif line.strip() == "```python":
                block = []
        elif line.strip() == "```":
            examples.append((heading, _reindent(block)))
            block = None
        else:
            block.append(line)
    return examples


EXAMPLES = python_examples() if SEED else []
pytestmark = pytest.mark.skipif(SEED is None, reason=f"no ../shared/seeds/{SEED_NAME} here")


def test_the_seed_readme_has_its_examples():
    headings = [heading for heading, _ in EXAMPLES]
    assert len(EXAMPLES) >= 20
    for expected in ("Quick start", "SQLiteStore", "Prompt tasks", "Agent tasks",
                     "Event stream", "DAG workflows", "Finally tasks"):  # fmt: skip
        assert expected in headings


@pytest.fixture
def agent_script(tmp_path):
    script = tmp_path / "bin" / "readme-agent"
    script.parent.mkdir()
    script.write_text('#!/bin/sh\necho "agent read: $1"\n')
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("heading", "code"), EXAMPLES, ids=[f"{n:02d}-{h}" for n, (h, _) in enumerate(EXAMPLES)]
)
def test_readme_example_runs_verbatim(heading, code, tmp_path, monkeypatch, llm_server,
                                      agent_script, capsys):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBAPP_LLM_URL", llm_server.url)
    monkeypatch.setenv("WEBAPP_LLM_MODEL", "gpt-5.4-mini")
    monkeypatch.setenv("WEBAPP_AGENT_COMMAND", f"{agent_script} {{payload}}")
    source = code.replace("ttasks", "webapp")
    namespace: dict = {"__name__": f"readme_{heading}"}
    exec(compile(PRELUDE, "<prelude>", "exec"), namespace)
    exec(compile(source, f"<seed 002 README: {heading}>", "exec"), namespace)
    printed = capsys.readouterr().out
    if heading == "Prompt tasks" and "print(result.output)" in source:
        assert printed == "echo: Explain a DAG in one concise sentence.\n"
        assert llm_server.requests[-1]["stream"] is True
    if heading == "Agent tasks" and "print(result.output)" in source:
        assert printed.startswith("agent read: Read README.md and summarize")


def test_reindent_restores_blocks():
    lines = ["try:", "a()", "except E:", "b()", "c()", "", "d()"]
    assert _reindent(lines) == "try:\n    a()\nexcept E:\n    b()\n    c()\n\nd()\n"
