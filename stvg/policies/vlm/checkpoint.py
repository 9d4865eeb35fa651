"""Load a local VLM checkpoint: family, model and processor (tokenizer, chat template).

Everything is read from a LOCAL directory with ``local_files_only=True``; nothing is ever
downloaded. transformers is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from stvg.policies.vlm.families import FAMILIES, family_for_model_type, get_family


def model_types() -> dict[str, str]:
    """``model_type`` in a checkpoint's ``config.json`` -> policy family, over the
    registered family adapters."""
    return {t: a.name for a in FAMILIES.values() for t in a.model_types}


def processor_classes() -> dict[str, str]:
    """transformers processor class name of each registered family."""
    return {a.name: a.processor_class for a in FAMILIES.values()}


def check_model_path(model_path: str | Path) -> Path:
    """``model_path`` as a ``Path``; raises ``FileNotFoundError`` unless it is a local directory."""
    path = Path(model_path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"model_path {str(model_path)!r} is not a local directory; the VLM policy loads "
            "checkpoints from disk only (download one first, e.g. with huggingface-cli, "
            "and pass its directory)"
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{path} has no config.json: it is not a transformers checkpoint directory"
        )
    return path


def detect_family(model_path: str | Path) -> str:
    """The policy family (``qwen2.5-vl``, ``qwen3-vl``, ``internvl``, ...) from
    ``config.json``'s ``model_type`` (:func:`~stvg.policies.vlm.families.family_for_model_type`)."""
    path = check_model_path(model_path) / "config.json"
    try:
        model_type = json.loads(path.read_text(encoding="utf-8")).get("model_type")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    try:
        return family_for_model_type(model_type).name
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str) -> Any:
    """The torch dtype for ``dtype`` (``auto`` = bfloat16 on CUDA, float32 elsewhere)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def load_model(
    model_path: str | Path,
    *,
    device: str,
    dtype: Any,
    attn_implementation: str | None = None,
    device_map: str | None = None,
) -> Any:
    """The image-text-to-text model of the checkpoint in eval mode.

    ``device_map`` (e.g. ``auto``) lets transformers place the weights; otherwise the model
    is moved to ``device``.
    """
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": dtype}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if device_map is not None:
        if importlib.util.find_spec("accelerate") is None:
            raise ValueError(
                f"device_map={device_map!r} needs the accelerate package, which is not "
                "installed: pip install accelerate, or set device instead of device_map"
            )
        kwargs["device_map"] = device_map
    model = AutoModelForImageTextToText.from_pretrained(str(model_path), **kwargs)
    if device_map is None:
        model = model.to(device)
    return model.eval()


def load_processor(model_path: str | Path, family: str) -> Any:
    """The checkpoint's own processor (tokenizer, image and video processor, chat template).

    Loaded with ``AutoProcessor.from_pretrained(model_path, local_files_only=True)``. When the
    processor has no chat template but its tokenizer has one (or the reverse), the one found
    is used for both.

    Raises:
        ValueError: the processor cannot be loaded, is not ``family``'s processor class (or
            a video family's processor has no video processor), its temporal patch size
            differs from the vision tower's (``config.json``), or there is no chat template
            anywhere.
    """
    from transformers import AutoProcessor

    adapter = get_family(family)
    path = Path(model_path)
    try:
        processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"could not load the processor of {path}: {exc}. A {family} checkpoint needs "
            "its processor files (processor_config.json, or preprocessor_config.json / "
            "video_preprocessor_config.json) beside the tokenizer; copy them from the "
            "original model, or build a tiny checkpoint with `stvg models tiny`"
        ) from exc
    expected = adapter.processor_class
    needs_video = adapter.input_kind == "video"
    if type(processor).__name__ != expected or (
        needs_video and getattr(processor, "video_processor", None) is None
    ):
        what = f"a {expected} with a video processor" if needs_video else f"a {expected}"
        raise ValueError(
            f"{path}: AutoProcessor loaded a {type(processor).__name__}, but a {family} "
            f"checkpoint needs {what}; check processor_config.json (processor_class) and the "
            "processor files"
        )
    _check_temporal_patch(path, processor)
    tokenizer = processor.tokenizer
    template = getattr(processor, "chat_template", None) or getattr(
        tokenizer, "chat_template", None
    )
    if not template:
        raise ValueError(
            f"{path} has no chat template (chat_template.jinja, chat_template.json or "
            "tokenizer_config.json); the VLM policy needs one to build prompts"
        )
    processor.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = template
    return processor


def _check_temporal_patch(path: Path, processor: Any) -> None:
    """The processors must cut frames into the temporal patches the vision tower embeds."""
    try:
        vision = json.loads((path / "config.json").read_text()).get("vision_config") or {}
    except (OSError, ValueError):
        return  # detect_family reported an unreadable config.json already
    tower = vision.get("temporal_patch_size")
    if tower is None:
        return
    for name in ("video_processor", "image_processor"):
        made = getattr(getattr(processor, name, None), "temporal_patch_size", None)
        if made is not None and int(made) != int(tower):
            raise ValueError(
                f"{path}: the vision tower embeds temporal patches of {tower} frames "
                f"(config.json vision_config.temporal_patch_size) but the {name} makes "
                f"patches of {made}; set temporal_patch_size to {tower} in its preprocessor "
                "config, or rebuild the checkpoint"
            )


__all__ = [
    "model_types",
    "processor_classes",
    "check_model_path",
    "detect_family",
    "load_model",
    "load_processor",
    "resolve_device",
    "resolve_dtype",
]
