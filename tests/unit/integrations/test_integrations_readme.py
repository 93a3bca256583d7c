"""The README's adapter examples run as written: fenced blocks opened by ```python title="langchain"
and ```python title="llamaindex" are extracted from README.md and executed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"
BLOCK = re.compile(r'^```python title="(?P<title>[\w-]+)"[ \t]*\n(?P<code>.*?)^```', re.S | re.M)
FIRST_LINE = {"langchain": "Louvre", "llamaindex": "Louvre"}  # the answer each example prints first


def readme_examples() -> dict[str, str]:
    return {m["title"]: m["code"] for m in BLOCK.finditer(README.read_text(encoding="utf-8"))}


def test_block_pattern_reads_titled_python_blocks():
    text = 'intro\n```python title="langchain"\nprint(1)\n```\n```python\nplain\n```\n'
    assert {m["title"]: m["code"] for m in BLOCK.finditer(text)} == {"langchain": "print(1)\n"}


@pytest.mark.parametrize("title", sorted(FIRST_LINE))
def test_readme_example_runs(title, minilm, tmp_path, monkeypatch, capsys):
    pytest.importorskip("langchain_core" if title == "langchain" else "llama_index.core")
    code = readme_examples().get(title)
    if code is None:
        pytest.skip(f'README.md has no ```python title="{title}" block yet')
    monkeypatch.chdir(tmp_path)  # an example may persist to ./data
    exec(compile(code, f"README.md[{title}]", "exec"), {"__name__": f"readme_{title}"})
    printed = capsys.readouterr().out.splitlines()
    assert printed and FIRST_LINE[title] in printed[0]
