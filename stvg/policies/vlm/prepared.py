"""``PreparedPrompt``: the model inputs of one observation, whatever the model family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stvg.verifiers.formats import ShownFrames


@dataclass
class PreparedPrompt:
    """Model inputs of one observation (batch of one, on the CPU), from the processor.

    A family adapter (:mod:`stvg.policies.vlm.families`) builds it; generic code reads the
    text fields and counts, and hands :attr:`visual` back to the same adapter to batch it.

    Attributes:
        text: the chat prompt before the processor expanded its visual placeholders.
        input_ids: long ``[1, P]`` prompt tokens (visual placeholders expanded).
        mm_token_type_ids: int ``[1, P]`` (0 text, 1 image, 2 video token), or ``None`` for
            families whose processor does not make them.
        visual: the family's visual model inputs of this prompt, by model-input name (Qwen:
            ``pixel_values_videos`` ``[grid_t * grid_h * grid_w, patch_dim]``,
            ``video_grid_thw`` long ``[1, 3]`` and, for Qwen2.5-VL, ``second_per_grid_ts``
            float ``[1]``; InternVL: ``pixel_values`` float ``[T, 3, S, S]``).
        frames_shown: real frames in the observation.
        shown: timestamps, shown size and model size as the prompt text told them (the
            policy makes ``shown.model_size`` equal :attr:`model_size`).
        visual_tokens: visual placeholder tokens the processor put in the prompt.
        model_size: ``(width, height)`` of the frames the processor gave the model, pixels
            (the size ``pixels`` coordinates refer to).
        family: the family adapter's name (``qwen2.5-vl``, ``internvl``, ...).
        patch_size, merge_size: the vision processor's patch side (pixels) and the patches
            merged per side into one token.
    """

    text: str
    input_ids: Any
    mm_token_type_ids: Any
    visual: dict[str, Any]
    frames_shown: int
    shown: ShownFrames
    visual_tokens: int
    model_size: tuple[int, int]
    family: str
    patch_size: int
    merge_size: int

    @property
    def prompt_tokens(self) -> int:
        """All prompt tokens (text and visual)."""
        return int(self.input_ids.shape[1])

    @property
    def shown_size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames in the observation, pixels."""
        return self.shown.shown_size

    # Qwen video families' inputs, by name (``None`` where a family has no such input).

    @property
    def pixel_values_videos(self) -> Any:
        """Qwen: float ``[grid_t * grid_h * grid_w, patch_dim]`` video patches (else ``None``)."""
        return self.visual.get("pixel_values_videos")

    @property
    def video_grid_thw(self) -> Any:
        """Qwen: long ``[1, 3]`` ``(grid_t, grid_h, grid_w)`` in patches (else ``None``)."""
        return self.visual.get("video_grid_thw")

    @property
    def second_per_grid_ts(self) -> Any:
        """Qwen2.5-VL: float ``[1]`` seconds per temporal patch (else ``None``)."""
        return self.visual.get("second_per_grid_ts")

    @property
    def grid_thw(self) -> tuple[int, int, int]:
        """``(grid_t, grid_h, grid_w)`` of the video, patches (video families only).

        Raises:
            ValueError: the family gives the frames as images, with no video grid.
        """
        grid = self.video_grid_thw
        if grid is None:
            raise ValueError(
                f"a {self.family} prompt has no video grid (its frames are images); use "
                "visual_tokens and model_size instead"
            )
        t, h, w = (int(v) for v in grid[0])
        return t, h, w


__all__ = ["PreparedPrompt"]
