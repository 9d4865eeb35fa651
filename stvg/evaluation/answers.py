"""What a policy answered, beyond its scores: each sample's raw text and parse outcome, and
an evaluation's summary of them.

A text policy (the VLM) can fail before any IoU is computed: an answer that does not parse
scores 0 on every term. :func:`answer_stats` says how often that happened and why, so a
report never hides it behind a low vIoU:

* ``parsed`` / ``parse_rate``: answers the verifier could use (possibly after repairs);
* ``well_formed`` / ``well_formed_rate``: answers that needed no repair (the ``format``
  term's 1);
* ``cut_by_token_budget``: text answers cut by ``max_new_tokens`` (no end-of-sequence);
* ``failure_reasons``: the parse errors, numbers replaced by ``N`` so that errors of one
  kind count together (``invalid JSON at char N: Expecting value``), most frequent first;
  a policy that gave no text counts under its own error instead (a served model's
  ``policy: HTTP N after retries: ...``, the record's ``policy_error``);
* ``first_failure``: the first failed sample's id, error and raw text (cut at
  :data:`TEXT_CHARS` characters), and its ``policy_error`` when it has one.

Each sample's record (``per_sample.jsonl``) keeps the whole raw text (``answer_text``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

#: Characters of a raw answer quoted in summaries and reports (the records keep it all).
TEXT_CHARS = 200
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def failure_kind(error: str) -> str:
    """A parse error with its numbers replaced by ``N`` (errors of one kind group).

    >>> failure_kind("invalid JSON at char 17: Expecting value")
    'invalid JSON at char N: Expecting value'
    """
    return _NUMBER.sub("N", error.strip())[:120]


def quote(text: str | None, limit: int = TEXT_CHARS) -> str:
    """``text`` on one line (newlines shown as ``⏎``), cut at ``limit`` characters.

    >>> quote("<answer>\\n{", 8)
    '<answer>…'
    """
    if text is None:
        return ""
    flat = text.replace("\r\n", "\n").replace("\n", "⏎")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def answer_stats(per_sample: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The summary of the module docstring over ``per_sample`` records (``parse_error``,
    ``format_ok``, ``answer_text``, ``finished`` as :func:`~stvg.evaluation.evaluate.
    sample_record` writes them)."""
    n = len(per_sample)
    failed = [r for r in per_sample if r.get("parse_error")]
    parsed = n - len(failed)
    well_formed = sum(1 for r in per_sample if r.get("format_ok") is True)
    reasons = Counter(failure_kind(_reason(r)) for r in failed)
    stats: dict[str, Any] = {
        "n": n,
        "parsed": parsed,
        "parse_rate": parsed / n if n else 0.0,
        "well_formed": well_formed,
        "well_formed_rate": well_formed / n if n else 0.0,
        "cut_by_token_budget": sum(1 for r in per_sample if r.get("finished") is False),
        "failure_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "first_failure": None,
    }
    if failed:
        first = failed[0]
        stats["first_failure"] = {
            "sample_id": first["sample_id"],
            "parse_error": first["parse_error"],
            "answer_text": quote(first.get("answer_text")),
        }
        if first.get("policy_error"):
            stats["first_failure"]["policy_error"] = first["policy_error"]
    return stats


def _reason(record: Mapping[str, Any]) -> str:
    """Why a failed record's answer did not parse: the policy's own error when it gave no
    text (``policy: HTTP 500 after retries: ...``), else the parse error."""
    if record.get("policy_error"):
        return f"policy: {record['policy_error']}"
    return str(record["parse_error"])


def answers_line(stats: Mapping[str, Any]) -> str:
    """One line of :func:`answer_stats`:

    >>> answers_line({"n": 16, "parsed": 11, "parse_rate": 11 / 16, "well_formed": 9,
    ...     "well_formed_rate": 9 / 16, "cut_by_token_budget": 0,
    ...     "failure_reasons": {"invalid JSON at char N: Expecting value": 5}})
    'answers: 11 of 16 parsed (68.8 %), 9 well-formed (56.2 %); failed: invalid JSON at char N: Expecting value (5)'
    """
    n = stats["n"]
    text = (
        f"answers: {stats['parsed']} of {n} parsed ({100 * stats['parse_rate']:.1f} %), "
        f"{stats['well_formed']} well-formed ({100 * stats['well_formed_rate']:.1f} %)"
    )
    if stats.get("cut_by_token_budget"):
        text += f", {stats['cut_by_token_budget']} cut by the token budget"
    reasons = stats.get("failure_reasons") or {}
    if reasons:
        text += "; failed: " + ", ".join(f"{kind} ({count})" for kind, count in reasons.items())
    return text


__all__ = ["TEXT_CHARS", "answer_stats", "answers_line", "failure_kind", "quote"]
