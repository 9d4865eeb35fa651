"""The envs' verifier (built from their config) and the cost figures put in ``info``."""

from __future__ import annotations

import dataclasses
from typing import Any

from stvg.config import ConfigError
from stvg.envs.config import EnvDataConfig
from stvg.envs.cost import cost_figures, visual_tokens
from stvg.verifiers.formats import ModelGeometry
from stvg.verifiers.verifier import Verifier, load_verifier_config


def build_verifier(cfg: EnvDataConfig) -> Verifier:
    """The verifier of ``cfg.verifier`` with the env's ``densify``, ``answer_format`` and
    ``coords`` (where the config has them and they are not ``None``) replacing its own.

    Raises:
        ConfigError: a bad verifier config, naming the key path (``env.verifier...``), or
            a ``densify.end_extension`` (a fraction of the sampling interval ``1 / fps``)
            with ``fps: null`` (every frame shown: no sampling rate).
    """
    vcfg = load_verifier_config(cfg.verifier)
    overrides: dict[str, Any] = {}
    for name in ("densify", "answer_format", "coords"):
        value = getattr(cfg, name, None)
        if value is not None:
            overrides[name] = value
    if not overrides:
        verifier = Verifier(vcfg)
    else:
        try:
            verifier = Verifier(dataclasses.replace(vcfg, **overrides))
        except ValueError as exc:
            raise ConfigError(f"config key env ({sorted(overrides)}): {exc}") from exc
    extension = verifier.config.densify.end_extension
    if extension and cfg.fps is None:  # refused here, not by the first step's scoring
        where = "env.densify" if "densify" in overrides else "env.verifier.densify"
        raise ConfigError(
            f"config key {where}.end_extension: {extension} is a fraction of the sampling "
            "interval 1 / fps, and env.fps is null (every frame shown, no sampling rate); "
            "set env.fps or end_extension: 0"
        )
    return verifier


def set_verifier_iteration(env: Any, iteration: int | None) -> None:
    """Tell ``env``'s verifier (through any wrappers) the training iteration whose answers
    it scores next (:meth:`~stvg.verifiers.verifier.Verifier.set_iteration`: terms with a
    schedule over training read it); an env without a verifier is left alone."""
    verifier = getattr(getattr(env, "unwrapped", env), "verifier", None)
    if isinstance(verifier, Verifier):
        verifier.set_iteration(iteration)


def cost_info(
    frames_shown: int, shown_size: tuple[int, int], geometry: ModelGeometry | None = None
) -> dict[str, Any]:
    """Flat cost figures for ``info``: ``cost/frames_shown`` and
    ``cost/visual_tokens/<family>`` (Qwen2.5-VL and Qwen3-VL video tokens) for
    ``frames_shown`` frames of ``shown_size = (width, height)`` pixels.

    Families use their processors' default settings, except the family of ``geometry``
    (the policy's processor), which is costed with its own pixel bounds."""
    width, height = shown_size
    figures = cost_figures(int(frames_shown), int(height), int(width))
    if geometry is not None and frames_shown:
        figures["visual_tokens"][geometry.family] = visual_tokens(
            geometry.family,  # type: ignore[arg-type]
            int(frames_shown),
            int(height),
            int(width),
            min_pixels=geometry.min_pixels,
            max_pixels=geometry.max_pixels,
            cap_pixels_per_frame=geometry.cap_pixels_per_frame,
            max_video_tokens=geometry.max_video_tokens,
            temporal_patch_size=geometry.temporal_patch_size,
        )
    info: dict[str, Any] = {"cost/frames_shown": figures["frames_shown"]}
    for family, tokens in figures["visual_tokens"].items():
        info[f"cost/visual_tokens/{family}"] = tokens
    return info


__all__ = ["build_verifier", "cost_info", "set_verifier_iteration"]
