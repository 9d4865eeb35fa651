"""Batches of prepared prompts: left-padded prompts, right-padded completions.

Generation and scoring put several prompts (of different lengths) in one forward pass:

* prompts are LEFT-padded to the longest, so every row's last prompt token sits in the same
  column and generation appends to all rows at once; ``attention_mask`` is 0 on the
  padding, which transformers' Qwen models skip when they compute the M-RoPE position ids
  (``get_rope_index`` drops masked tokens, and the generation-time ``rope_deltas`` count
  only real tokens), so a padded row gets the same positions as the row alone;
* completions follow their prompt, RIGHT-padded to the longest (mask 0 on the padding, which
  causal attention never lets an earlier token see).

:func:`prompt_batch` builds generation inputs (one row per prompt, ``pixel_values_videos``
of all prompts in row order); :func:`scoring_batch` builds the rows of a log-probability
pass, where several rows may share one prompt; their videos are encoded once per prompt
and the features shared (:func:`rows_of_video_features`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stvg.policies.vlm.video import PreparedPrompt


def _left_padded(preps: Sequence[PreparedPrompt], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(p.prompt_tokens for p in preps)
    ids = torch.full((len(preps), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(preps), width), dtype=torch.long)
    mask = torch.zeros((len(preps), width), dtype=torch.long)
    for row, prep in enumerate(preps):
        start = width - prep.prompt_tokens
        ids[row, start:] = prep.input_ids[0]
        types[row, start:] = prep.mm_token_type_ids[0]
        mask[row, start:] = 1
    return ids, types, mask


def _timing(preps: Sequence[PreparedPrompt]) -> Any:
    import torch

    if any(p.second_per_grid_ts is None for p in preps):
        return None
    return torch.cat([torch.as_tensor(p.second_per_grid_ts, dtype=torch.float32) for p in preps])


def prompt_batch(preps: Sequence[PreparedPrompt], pad_id: int) -> dict[str, Any]:
    """Generation inputs of ``preps``, one left-padded row each (CPU tensors).

    Returns ``input_ids``, ``attention_mask``, ``mm_token_type_ids`` ``[B, P_max]``,
    ``pixel_values_videos`` (all videos, row order), ``video_grid_thw`` ``[B, 3]`` and, for
    Qwen2.5-VL, ``second_per_grid_ts`` ``[B]``.
    """
    import torch

    if not preps:
        raise ValueError("prompt_batch needs at least one prepared prompt")
    ids, types, mask = _left_padded(preps, pad_id)
    inputs: dict[str, Any] = {
        "input_ids": ids,
        "attention_mask": mask,
        "mm_token_type_ids": types,
        "pixel_values_videos": torch.cat([p.pixel_values_videos for p in preps]),
        "video_grid_thw": torch.cat([p.video_grid_thw for p in preps]),
    }
    timing = _timing(preps)
    if timing is not None:
        inputs["second_per_grid_ts"] = timing
    return inputs


def scoring_batch(
    preps: Sequence[PreparedPrompt | None],
    prompt_of_row: Sequence[int],
    completion_ids: Any,
    completion_mask: Any,
    pad_id: int,
) -> tuple[dict[str, Any], list[int], list[int]]:
    """Inputs of a log-probability pass over completion rows (CPU tensors).

    Args:
        preps: the prompts the rows answer (entries no row points to may be ``None``).
        prompt_of_row: index into ``preps`` of each row's prompt.
        completion_ids: long ``[R, L]`` right-padded completion tokens.
        completion_mask: bool ``[R, L]``, ``False`` on padding.
        pad_id: the padding token id.

    Returns:
        ``(inputs, unique, video_of_row)``: the model inputs without pixels (rows are
        ``[left padding, prompt, completion, right padding]``), the indices into ``preps``
        whose videos the pass encodes (first-appearance order), and for each row the
        position of its video in ``unique``.
    """
    import torch

    rows: list[PreparedPrompt] = []
    for i in prompt_of_row:
        prep = preps[i]
        if prep is None:
            raise ValueError(f"scoring_batch: a row points to prompt {i}, which was not prepared")
        rows.append(prep)
    ids, types, mask = _left_padded(rows, pad_id)
    completion_mask = completion_mask.to(torch.long)
    unique = list(dict.fromkeys(int(i) for i in prompt_of_row))
    video_of_row = [unique.index(int(i)) for i in prompt_of_row]
    inputs: dict[str, Any] = {
        "input_ids": torch.cat([ids, completion_ids.to(torch.long)], dim=1),
        "attention_mask": torch.cat([mask, completion_mask], dim=1),
        "mm_token_type_ids": torch.cat([types, torch.zeros_like(completion_mask)], dim=1),
        "video_grid_thw": torch.cat([p.video_grid_thw for p in rows]),
    }
    timing = _timing(rows)
    if timing is not None:
        inputs["second_per_grid_ts"] = timing
    return inputs, unique, video_of_row


def rows_of_video_features(features: Any, video_of_row: Sequence[int]) -> Any:
    """Video encoder output of the unique videos, re-indexed to one entry per row.

    ``features`` is what ``model.get_video_features(..., return_dict=True)`` returns for the
    unique videos: ``pooler_output`` holds one ``[tokens, hidden]`` tensor per video (and
    Qwen3-VL's ``deepstack_features`` one tuple of those per deepstack layer). Rows that
    share a video share its tensors, so the vision tower runs once per video and its
    gradient sums over the rows.
    """
    features.pooler_output = tuple(features.pooler_output[v] for v in video_of_row)
    deepstack = getattr(features, "deepstack_features", None)
    if deepstack is not None:
        features.deepstack_features = [tuple(layer[v] for v in video_of_row) for layer in deepstack]
    return features


__all__ = ["prompt_batch", "rows_of_video_features", "scoring_batch"]
