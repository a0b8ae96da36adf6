"""The README's Python examples run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, capsys):
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})


def test_readme_has_the_two_commands():
    text = README.read_text()
    assert "pip install -e \".[dev]\"" in text and "python -m pytest" in text
    assert "python -m pytest" in (README.parent / ".ci" / "run").read_text()
