"""A target text as the completion a VLM policy must produce: its tokens and the end of the
assistant turn (what VLM SFT and the vision warm-up train on, and a greedy decode stops at)."""

from __future__ import annotations

from typing import Any


def end_of_turn_id(tokenizer: Any) -> int:
    """The id of the token that ends an assistant turn: ``<|im_end|>`` (Qwen chat
    templates), else the tokenizer's ``eos_token_id``."""
    token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if token_id is None or token_id == tokenizer.unk_token_id:
        token_id = tokenizer.eos_token_id
    if token_id is None:
        raise ValueError("the tokenizer has neither <|im_end|> nor an eos token")
    return int(token_id)


def target_completion(policy: Any, text: str) -> Any:
    """``text`` as a :class:`~stvg.policies.base.TextCompletion` of the policy's
    tokenizer, with the end-of-turn token appended (what a greedy decode must produce)."""
    from stvg.policies.base import TextCompletion

    ids = policy.tokenizer(text, add_special_tokens=False)["input_ids"]
    return TextCompletion(text, (*(int(i) for i in ids), end_of_turn_id(policy.tokenizer)))
