"""The README's slopegrad example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README shows no Python example"
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out
    assert "0.weight (16, 4) (16, 4)" in printed


def test_readme_names_the_two_commands():
    text = README.read_text()
    assert "make course" in text and "make test" in text
