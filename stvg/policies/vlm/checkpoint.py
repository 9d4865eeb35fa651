"""Load a local Qwen VLM checkpoint: family, model, tokenizer and chat template.

Everything is read from a LOCAL directory with ``local_files_only=True``; nothing is ever
downloaded. transformers is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: ``model_type`` in a checkpoint's ``config.json`` -> policy family.
MODEL_TYPES: dict[str, str] = {
    "qwen2_5_vl": "qwen2.5-vl",
    "qwen3_vl": "qwen3-vl",
    "qwen3_vl_moe": "qwen3-vl",
}


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
    """The policy family (``qwen2.5-vl``/``qwen3-vl``) from ``config.json``'s ``model_type``."""
    path = check_model_path(model_path) / "config.json"
    try:
        model_type = json.loads(path.read_text(encoding="utf-8")).get("model_type")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if model_type not in MODEL_TYPES:
        raise ValueError(
            f"{path}: model_type {model_type!r} is not supported by the VLM policy; "
            f"supported: {sorted(MODEL_TYPES)}"
        )
    return MODEL_TYPES[model_type]


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
) -> Any:
    """The image-text-to-text model of the checkpoint, on ``device``, in eval mode."""
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": dtype}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    model = AutoModelForImageTextToText.from_pretrained(str(model_path), **kwargs)
    return model.to(device).eval()


def load_tokenizer(model_path: str | Path) -> Any:
    """The checkpoint's tokenizer, with the chat template of the processor when it has none.

    Qwen checkpoints keep the chat template in ``chat_template.jinja`` or
    ``chat_template.json`` (processor) and/or in ``tokenizer_config.json``.
    """
    from transformers import AutoTokenizer

    path = Path(model_path)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        jinja = path / "chat_template.jinja"
        as_json = path / "chat_template.json"
        if jinja.is_file():
            tokenizer.chat_template = jinja.read_text(encoding="utf-8")
        elif as_json.is_file():
            tokenizer.chat_template = json.loads(as_json.read_text(encoding="utf-8"))[
                "chat_template"
            ]
        else:
            raise ValueError(
                f"{path} has no chat template (tokenizer_config.json, chat_template.jinja "
                "or chat_template.json); the VLM policy needs one to build prompts"
            )
    return tokenizer


__all__ = [
    "MODEL_TYPES",
    "check_model_path",
    "detect_family",
    "load_model",
    "load_tokenizer",
    "resolve_device",
    "resolve_dtype",
]
