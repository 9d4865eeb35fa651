"""Batches of prepared prompts: left-padded prompts, right-padded completions.

Generation and scoring put several prompts (of different lengths) in one forward pass:

* prompts are LEFT-padded to the longest, so every row's last prompt token sits in the same
  column and generation appends to all rows at once; ``attention_mask`` is 0 on the
  padding. Qwen's M-RoPE skips masked tokens itself (``get_rope_index`` drops them, and
  the generation-time ``rope_deltas`` count only real tokens); for 1-D RoPE families the
  family adapter gives ``position_ids`` that count only real tokens
  (:meth:`~stvg.policies.vlm.families.FamilyAdapter.position_ids`, what ``generate`` does
  itself), so a padded row gets the same positions as the row alone;
* completions follow their prompt, RIGHT-padded to the longest (mask 0 on the padding, which
  causal attention never lets an earlier token see).

:func:`prompt_batch` builds generation inputs (one row per prompt, the visual inputs of all
prompts in row order, from the family adapter); :func:`scoring_batch` builds the rows of a
log-probability pass, where several rows may share one prompt; their pixels are encoded
once per prompt and the features shared
(:meth:`~stvg.policies.vlm.families.FamilyAdapter.features_of_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stvg.policies.vlm.families import FamilyAdapter, get_family
from stvg.policies.vlm.prepared import PreparedPrompt


def family_of(preps: Sequence[PreparedPrompt]) -> FamilyAdapter:
    """The one family adapter of ``preps``; raises ``ValueError`` for none or a mix."""
    families = {p.family for p in preps}
    if len(families) != 1:
        raise ValueError(
            f"a batch needs prompts of one model family, got {sorted(families) or 'none'}"
        )
    return get_family(families.pop())


def _left_padded(preps: Sequence[PreparedPrompt], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(p.prompt_tokens for p in preps)
    ids = torch.full((len(preps), width), pad_id, dtype=torch.long)
    with_types = all(p.mm_token_type_ids is not None for p in preps)
    types = torch.zeros((len(preps), width), dtype=torch.long) if with_types else None
    mask = torch.zeros((len(preps), width), dtype=torch.long)
    for row, prep in enumerate(preps):
        start = width - prep.prompt_tokens
        ids[row, start:] = prep.input_ids[0]
        if types is not None:
            types[row, start:] = prep.mm_token_type_ids[0]
        mask[row, start:] = 1
    return ids, types, mask


def prompt_batch(
    preps: Sequence[PreparedPrompt], pad_id: int, *, visual: bool = True
) -> dict[str, Any]:
    """Generation inputs of ``preps``, one left-padded row each (CPU tensors).

    Returns ``input_ids``, ``attention_mask`` ``[B, P_max]``, ``mm_token_type_ids``
    ``[B, P_max]`` (families whose processor makes them) and, unless ``visual`` is false
    (the caller passes encoded features instead), the family's visual inputs
    (:meth:`~stvg.policies.vlm.families.FamilyAdapter.visual_inputs`: for the Qwen
    families ``pixel_values_videos`` of all videos in row order, ``video_grid_thw``
    ``[B, 3]`` and, for Qwen2.5-VL, ``second_per_grid_ts`` ``[B]``).
    """
    if not preps:
        raise ValueError("prompt_batch needs at least one prepared prompt")
    adapter = family_of(preps)
    ids, types, mask = _left_padded(preps, pad_id)
    inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        inputs["mm_token_type_ids"] = types
    if visual:
        inputs.update(adapter.visual_inputs(preps))
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
        ``(inputs, unique, prompt_of_unique_row)``: the model inputs without pixels (rows
        are ``[left padding, prompt, completion, right padding]``, plus the family's
        :meth:`~stvg.policies.vlm.families.FamilyAdapter.row_inputs` and, for 1-D RoPE
        families, ``position_ids``), the indices into ``preps`` whose pixels the pass
        encodes (first-appearance order), and for each row the position of its prompt in
        ``unique``.
    """
    import torch

    rows: list[PreparedPrompt] = []
    for i in prompt_of_row:
        prep = preps[i]
        if prep is None:
            raise ValueError(f"scoring_batch: a row points to prompt {i}, which was not prepared")
        rows.append(prep)
    adapter = family_of(rows)
    ids, types, mask = _left_padded(rows, pad_id)
    completion_mask = completion_mask.to(torch.long)
    unique = list(dict.fromkeys(int(i) for i in prompt_of_row))
    video_of_row = [unique.index(int(i)) for i in prompt_of_row]
    attention = torch.cat([mask, completion_mask], dim=1)
    inputs: dict[str, Any] = {
        "input_ids": torch.cat([ids, completion_ids.to(torch.long)], dim=1),
        "attention_mask": attention,
    }
    if types is not None:
        inputs["mm_token_type_ids"] = torch.cat([types, torch.zeros_like(completion_mask)], dim=1)
    inputs.update(adapter.row_inputs(rows))
    positions = adapter.position_ids(attention)
    if positions is not None:
        inputs["position_ids"] = positions
    return inputs, unique, video_of_row


__all__ = ["family_of", "prompt_batch", "scoring_batch"]
