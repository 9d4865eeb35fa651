"""A reward term of one's own: the README's example, registered by one function and named
by one YAML line, scores answers as the built-ins do (hand-computed values)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from stvg.config import ConfigError, parse_yaml
from stvg.data.types import Sample
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.rewards import REWARD_TERMS
from stvg.verifiers.verifier import Verifier, load_verifier_config

README = Path(__file__).resolve().parents[2] / "README.md"
# 10 fps, 100 frames (10 s); GT frames 10..30 with one box
SAMPLE = Sample("s", "", "the dog", 10.0, 100, 100, 100, (10, 30), {f: [0, 0, 50, 50] for f in range(10, 31)})  # fmt: skip
CTX = FrameContext.from_sample(SAMPLE, fps=1.0)


def _readme_example() -> tuple[str, str]:
    """The Python block and the YAML line of README's "Plugging in a reward"."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**Plugging in a reward**") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    line = re.search(r"```yaml\n(.*?)```", section, re.S).group(1).strip()
    return code, line


@pytest.fixture
def my_terms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    code, line = _readme_example()
    assert "# my_terms.py" in code
    (tmp_path / "my_terms.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "my_terms" not in sys.modules and "short_span" not in REWARD_TERMS
    yield parse_yaml(line.removeprefix("- ").strip())
    REWARD_TERMS.pop("short_span", None)
    sys.modules.pop("my_terms", None)


def _answer(span: str) -> str:
    return f'<answer>{{"span": {span}, "boxes": {{"1": [0, 0, 50, 50], "2": [0, 0, 50, 50]}}}}</answer>'


def test_readme_term_is_one_function_and_one_yaml_line(my_terms: dict) -> None:
    assert my_terms == {
        "name": "short_span",
        "weight": 0.2,
        "params": {"max_s": 4.0},
        "module": "my_terms",
    }
    # the YAML line alone imports the module, which registers the term
    config = load_verifier_config({"terms": [{"name": "t_iou", "weight": 1.0}, my_terms]})
    assert "short_span" in REWARD_TERMS and config.term_names == ["t_iou", "short_span"]
    short, long, junk = Verifier(config).score_batch(
        [_answer("[1, 3]"), _answer("[0, 8]"), "no answer here"], [SAMPLE] * 3, [CTX] * 3
    )
    # [1, 3] s -> frames 10..30: 21 frames = 2.1 s <= 4 s; tIoU 21/21
    assert short.terms == {"t_iou": 1.0, "short_span": 1.0}
    assert short.total == pytest.approx(1.2)
    # [0, 8] s -> frames 0..80: 8.1 s > 4 s; tIoU 21/81
    assert long.terms == pytest.approx({"t_iou": 21 / 81, "short_span": 0.0})
    assert long.total == pytest.approx(21 / 81)
    # unusable: 0 with the parse error as the reason, like every built-in term
    assert junk.terms == {"t_iou": 0.0, "short_span": 0.0}
    assert junk.reasons["short_span"].startswith("parse failed:")


def test_an_env_scores_with_the_term(my_terms: dict) -> None:
    from stvg.envs.grounding import GroundingEnv

    env = GroundingEnv(
        samples=[SAMPLE],
        fps=1.0,
        max_side=32,
        verifier={"terms": [my_terms]},
        frame_cache_mb=0,
    )
    # the synthetic sample has no video: the env is built (verifier and all) without one
    assert env.verifier.term_names == ["short_span"]
    assert env.verifier.score_text(_answer("[0, 8]"), SAMPLE, CTX).terms == {"short_span": 0.0}


def test_a_module_that_cannot_be_imported_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"verifier.terms\[0\].module: cannot import 'no_such_terms'"
    ):
        load_verifier_config({"verifier": {"terms": [{"name": "x", "module": "no_such_terms"}]}})
