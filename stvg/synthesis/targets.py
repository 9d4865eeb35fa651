"""Target texts of the VLM's supervised fine-tuning (the native policy's target action is
:func:`stvg.training.sft.native_data.sft_target`).

A target text is the whole text the model should write for one sample, one JSON object a line::

    {"sample_id": "train_0000", "target": "<think>...</think><answer>{...}</answer>"}

The synthesis issue writes such files from a teacher model's reasoning; until then, or for
a warm start, :func:`write_gt_targets` writes the ground truth of every sample of an env's
split as the answer the prompt asks for: the episode's answer contract
(``env.contract``, :class:`~stvg.verifiers.formats.AnswerContract`) renders its
:meth:`~stvg.verifiers.formats.AnswerContract.gt_answer` (the ground-truth span in seconds,
the ground-truth box of every shown frame inside it). The contract renders in the
coordinates, frame size and timestamps the policy's prompt states (for Qwen2.5-VL
``pixels``: pixels of the processor-resized frames), so a model trained on these texts
answers in the frame the env scores in; build the env with
:func:`stvg.training.sft.vlm.build_env` (or ``stvg.envs.contract.bind_env_kwargs``) so that
its contract is the policy's.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "targets.jsonl"
>>> write_targets(path, {"a": "<answer>{}</answer>"})
1
>>> read_targets(path)
{'a': '<answer>{}</answer>'}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stvg.data.errors import DataError


def read_targets(path: str | Path) -> dict[str, str]:
    """The ``{sample_id: target}`` texts of a targets JSONL file (blank lines skipped).

    Raises:
        DataError: the file is missing, a line is not a JSON object with a string
            ``sample_id`` and a non-empty string ``target``, or a sample id repeats (the
            message names the file and the line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "targets file not found",
            path=str(path),
            hint="write it with write_gt_targets or `stvg train-sft --write-targets`",
        )
    targets: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"line {number} is not JSON: {exc.msg}", path=where) from exc
            if not isinstance(record, dict):
                raise DataError(
                    f"line {number} must be a JSON object, got {type(record).__name__}", path=where
                )
            sample_id, target = record.get("sample_id"), record.get("target")
            if not isinstance(sample_id, str) or not sample_id:
                raise DataError(
                    f"line {number} needs a non-empty string sample_id, got {sample_id!r}",
                    path=where,
                    field="sample_id",
                )
            if not isinstance(target, str) or not target:
                raise DataError(
                    f"line {number} needs a non-empty string target, got {target!r}",
                    path=where,
                    sample_id=sample_id,
                    field="target",
                )
            if sample_id in targets:
                raise DataError(
                    f"line {number} repeats a sample id", path=where, sample_id=sample_id
                )
            targets[sample_id] = target
    return targets


def write_targets(path: str | Path, targets: Mapping[str, str] | Iterable[tuple[str, str]]) -> int:
    """Write ``{sample_id: target}`` (or ``(sample_id, target)`` pairs) as a targets JSONL.

    The file is written whole to a temporary name first, then moved into place.

    Returns:
        The number of records written.
    """
    path = Path(path)
    pairs = list(targets.items()) if isinstance(targets, Mapping) else list(targets)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for sample_id, target in pairs:
            handle.write(json.dumps({"sample_id": sample_id, "target": target}) + "\n")
    tmp.replace(path)
    return len(pairs)


def gt_target(env: Any, reasoning: str = "") -> str:
    """The ground truth of ``env``'s current episode as the target text.

    Args:
        env: a ``GroundingEnv`` after ``reset`` (unwrapped or behind Gymnasium wrappers).
        reasoning: text of the ``<think>`` block (``""`` = no block).
    """
    base = getattr(env, "unwrapped", env)
    contract, sample = base.contract, base.sample
    if contract is None or sample is None:
        raise RuntimeError("gt_target needs an episode: call env.reset() first")
    return contract.render(contract.gt_answer(sample), reasoning)


def gt_targets(env: Any, *, reasoning: str = "", limit: int | None = None) -> dict[str, str]:
    """``{sample_id: target}`` of the ground truth of every sample of ``env`` (in its order).

    Each sample is shown as an episode (``env.reset(options={"index": i})``) and its target
    is :func:`gt_target` of that episode; ``limit`` keeps the first ``limit`` samples.
    """
    base = getattr(env, "unwrapped", env)
    n = len(base.samples) if limit is None else min(limit, len(base.samples))
    targets: dict[str, str] = {}
    for i in range(n):
        _, info = base.reset(options={"index": i})
        targets[str(info["sample_id"])] = gt_target(base, reasoning)
    return targets


def write_gt_targets(
    env: Any, path: str | Path, *, reasoning: str = "", limit: int | None = None
) -> int:
    """Write :func:`gt_targets` of ``env`` to the targets JSONL ``path``.

    Returns:
        The number of records written.
    """
    return write_targets(path, gt_targets(env, reasoning=reasoning, limit=limit))


__all__ = [
    "gt_target",
    "gt_targets",
    "read_targets",
    "write_gt_targets",
    "write_targets",
]
