"""User-facing text: README, docs/, examples/, every ``--help`` and the docstrings (the API
reference) point only at what ships, and the examples name splits their datasets have."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import pytest

from stvg.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
#: What a user of a clone or of the package cannot follow.
UNSHIPPED = re.compile(r"DESIGN\.md|\.\./shared|[Ii]ssue notes?\b")
#: The splits the published annotation files of each dataset hold.
PUBLISHED_SPLITS = {"hcstvg": {"train", "test"}, "hcstvg2": {"train", "val"}}


def _user_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    files += sorted(p for p in (ROOT / "examples").rglob("*") if p.is_file())
    files += sorted((ROOT / "stvg").rglob("*.py"))  # docstrings: the API reference
    files += sorted((ROOT / "stvg").rglob("*.yaml"))  # shipped configs' comments
    return files


def _help_texts(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> dict:
    texts = {" ".join(words) or "stvg": parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                texts.update(_help_texts(sub, (*words, name)))
    return texts


def test_no_reference_to_what_does_not_ship() -> None:
    found = []
    for path in _user_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if UNSHIPPED.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for command, text in _help_texts(build_parser()).items():
        if UNSHIPPED.search(text):
            found.append(f"stvg {command} --help: {UNSHIPPED.search(text).group(0)}")
    assert not found, "\n".join(found)


def test_design_doc_ships_with_what_the_code_points_at() -> None:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    for heading in ("## Metric protocol", "## Answer format", "## Dataset formats"):
        assert heading in design


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    + sorted(p for p in (ROOT / "examples").rglob("*") if p.is_file()),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_examples_name_splits_their_dataset_has(path: Path) -> None:
    """`--dataset hcstvg --split val` (HC-STVG v1 has train and test) was in the verl
    example."""
    text = path.read_text(encoding="utf-8")
    for match in re.finditer(r"--dataset (\w+)(.{0,200}?)--split (\w+)", text, re.S):
        dataset, split = match.group(1), match.group(3)
        if dataset in PUBLISHED_SPLITS:
            assert split in PUBLISHED_SPLITS[dataset], match.group(0)


def _bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", markdown, re.S)


def test_readme_activates_the_venv_before_its_first_stvg_command() -> None:
    """`stvg` lives in .venv/bin after `make`: the README says to activate it before any
    block that runs it."""
    blocks = _bash_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    first = next(i for i, b in enumerate(blocks) if re.search(r"^stvg ", b, re.M))
    assert "source .venv/bin/activate" in blocks[first]
    assert blocks[first].index("source .venv/bin/activate") < blocks[first].index("stvg ")


def test_the_documentation_site_builds_strict(tmp_path: Path) -> None:
    """What `make docs` runs: every page and every API page (from the docstrings) builds
    without a warning (a broken link or an unparsable docstring fails it)."""
    import subprocess
    import sys

    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    verifiers = (tmp_path / "site" / "api" / "verifiers" / "index.html").read_text("utf-8")
    assert "score_batch" in verifiers  # the API reference is generated from the docstrings
    design = (tmp_path / "site" / "design" / "index.html").read_text("utf-8")
    assert "Metric protocol" in design
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "mkdocs build --strict" in makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
