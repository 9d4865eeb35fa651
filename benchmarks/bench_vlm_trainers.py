"""Benchmark: our VLM SFT and GRPO against TRL's ``SFTTrainer`` and ``GRPOTrainer``.

One small random Qwen VL checkpoint (``build_checkpoint(family, dir, SMALL)``: about 2.6M
parameters for Qwen2.5-VL, 3.0M for Qwen3-VL, the real transformers classes, a byte-level
tokenizer and the family's real processor) and the synthetic benchmark's train split
(``easy``, 10-second clips shown at 1 fps: 10 frames of ``--max-side`` pixels; the video
processor's ``min_pixels`` set to the frames' pixel count, where its default would blow a
128-pixel frame up to 336 pixels) go through five modes:

* ``ours_sft`` — :func:`stvg.training.sft.vlm.train_sft_vlm`, the ``stvg train-sft`` run
  (its defaults otherwise: deterministic algorithms, grad clip 1), ground-truth targets,
  ``1 + --repeats`` epochs over ``--samples`` samples;
* ``trl_sft`` — TRL's ``SFTTrainer`` on the SAME tensors: the rows name the samples, and
  a data collator, holding their frames (as a video), prompt text and target text,
  does what TRL's ``DataCollatorForVisionLanguageModeling`` does for prompt-completion rows
  (one processor call per batch, left-padded prompts, right-padded completions, labels
  ``-100`` on the prompt), but passes the frames as ``videos`` with our processor arguments,
  since TRL's own collator takes images only;
* ``trl_sft_images`` — ``SFTTrainer`` with TRL's own collator: the frames as an image list
  (see "image layout" below), the completion through TRL's chat template;
* ``ours_grpo`` — ``stvg train`` iterations of GRPO (:class:`stvg.training.loop.Trainer`,
  in process: ``rollout.num_workers: 0``, ``task_size = --prompts`` so one ``generate``
  call samples the batch): ``--prompts`` prompts x ``--group-size`` completions of exactly
  ``--completion-tokens`` tokens, rewards from the env's verifier, one optimiser step;
* ``trl_grpo`` — ``GRPOTrainer`` steps on the same prompts (image layout), group size and
  completion length, reward :func:`stvg.verifiers.adapters.make_trl_reward`, one optimiser
  step per generation batch.

Equal in both trainers: the checkpoint and its weights, float32 on the CPU,
``--threads`` torch threads, the samples, their frames (pixels), their prompt text (the
VLM policy's template) and their target text (the ground truth in the policy's answer
contract, followed by ``<|im_end|>``), the batch (``--batch-size`` samples or
``--prompts x --group-size`` completions per optimiser step), the micro-batch
(``--micro-batch-size`` rows per forward/backward pass, gradients accumulated), the
learning rates and schedules (SFT: 1e-5, cosine; GRPO: 1e-6, constant), the
gradient-norm clip (1), no gradient checkpointing, GRPO's loss (``loss_type: grpo``,
``beta = 0``: no reference model, one update per generation batch so neither side runs a
separate old-log-prob pass), sampling at temperature 1 with ``top_p = 1`` and the vision
tokens suppressed, and completions of exactly ``--completion-tokens`` tokens: the
checkpoint's ``generation_config`` ends generation on ``<|video_pad|>``, a token both
suppress, and TRL, which also stops on the tokenizer's ``<|im_end|>``, is told to
suppress that one too (:func:`align_checkpoint`; both trainers' completion lengths are
checked).

What differs (inherent to the two designs): TRL's GRPO takes images, not videos. The
**image layout** gives it every second shown frame as one image (5 of the 10): Qwen's
image processor repeats an image over the 2-frame temporal patch and, with the video
processor's lower pixel bound per frame (:func:`align_checkpoint`), resizes it as a video
frame, so these 5 images make exactly the vision-tower input and the visual token count of
our 10-frame video (checked; the header says so), with the prompt's video item replaced by
the 5 image items. The prompt lengths differ a little, given in the header: Qwen2.5-VL's
images add one ``<|vision_start|>``/``<|vision_end|>`` pair each (+8 tokens of ~1340);
Qwen3-VL's video carries a ``<t seconds>`` text per temporal patch that images do not (-65
tokens of ~1325, less work for TRL). ``--trl-images all`` gives every frame as an image
instead (what ``stvg export trl`` does: twice the visual tokens). TRL's GRPO repeats each
prompt ``group_size`` times and prefills (and encodes the video of) every copy; ours
prefills each prompt once and repeats its KV cache. TRL computes its log-probabilities
with its fused LM head; ours with ``VLMPolicy.log_prob``. Our GRPO also copies the
learner's weights to the rollout policy every iteration and plays the env (reset,
verifier); TRL's reward function runs the same verifier. In ``trl_sft_images`` TRL's chat
template adds a newline after ``<|im_end|>`` (one more target token). The optimisers: ours
torch's AdamW (SFT) and Adam (GRPO) with their per-tensor loops, TRL transformers' default
fused AdamW. Timings include data handling on both sides: our env resets (through its
frame cache) and processor calls; TRL's collator and processor calls (``trl_sft``'s
collator holds the decoded frames; the image modes' ``datasets.Dataset`` stores PNG
images, decoded as batches are drawn, as in a ``stvg export trl`` dataset).

Each mode runs in its own process (so ``ru_maxrss``, the peak resident memory, is that
mode's) and plays its work ``1 + --repeats`` times: an untimed warm-up (SFT: one epoch;
GRPO: one iteration), then timed repeats. The modes run one after the other, ``--rounds``
times over (a slow spell of the machine then hits every mode, not one), and each mode's
fastest timed run counts (the one least disturbed by other processes on the machine). The
table gives samples per second (SFT: target sequences; GRPO: completions) by wall-clock
time and by the process's CPU time (which other jobs on the machine disturb less), peak
memory and its growth over the process after its imports, every timed run, and the
ratios ours / TRL (speed, >= 1: ours at least as fast) and TRL / ours (peak memory and its
growth, >= 1: ours uses no more). One torch thread by default: on a machine whose cores
other jobs share, two threads per process stall on each other (runs vary several-fold);
the ratios compare equal thread counts. Run::

    .venv/bin/python benchmarks/bench_vlm_trainers.py [--family qwen2.5-vl] \\
        [--samples 8] [--batch-size 8] [--micro-batch-size 4] [--prompts 2] \\
        [--group-size 4] [--completion-tokens 32] [--max-side 128] [--threads 1] \\
        [--repeats 2] [--rounds 2] [--modes ours_sft,trl_sft,...] \\
        [--out bench_vlm_trainers.json]
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODES = ("ours_sft", "trl_sft", "trl_sft_images", "ours_grpo", "trl_grpo")
#: The comparisons of the ratio table: (task, our mode, TRL's mode).
PAIRS = (
    ("SFT", "ours_sft", "trl_sft"),
    ("SFT", "ours_sft", "trl_sft_images"),
    ("GRPO", "ours_grpo", "trl_grpo"),
)
SPLIT = "train"
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")


def min_pixels(family: str, max_side: int, frames: int = 10) -> int:
    """The video processor's ``min_pixels`` that keeps ``max_side``-pixel square frames at
    their size: per frame for Qwen2.5-VL, over the clip of ``frames`` frames for Qwen3-VL
    (the synthetic clips last 10 s: 10 frames at 1 fps)."""
    per_frame = max_side * max_side
    return per_frame if family == "qwen2.5-vl" else per_frame * frames


def policy_config(args: argparse.Namespace) -> dict[str, Any]:
    """The VLM policy config of every mode (``VLMPolicyConfig`` fields)."""
    return {
        "model_path": str(args.checkpoint),
        "min_pixels": min_pixels(args.family, args.max_side),
        "max_new_tokens": args.completion_tokens,
        "temperature": 1.0,
        "top_p": 1.0,
        "micro_batch_size": args.micro_batch_size,
        "device": "cpu",
        "dtype": "float32",
        "seed": 0,
    }


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The text ``GroundingEnv`` of the train split (the rest from the policy's contract)."""
    return {"dataset": "synthetic", "root": str(args.data), "max_side": args.max_side, "fps": 1.0}


# --------------------------------------------------------------------------- setup


def align_checkpoint(checkpoint: Path, frame_pixels: int) -> None:
    """Make ``checkpoint``'s generation and image processing equal for both trainers.

    * ``generation_config.json`` ends generation on ``<|video_pad|>`` only: a token both
      trainers suppress, so every completion runs to the token budget;
    * the image processor's lower pixel bound becomes ``frame_pixels`` (the video
      processor's bound per frame), so an image is resized as a video frame is and TRL's
      images are the video's frames at the same size.
    """
    config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    generation_file = checkpoint / "generation_config.json"
    generation = json.loads(generation_file.read_text(encoding="utf-8"))
    generation["eos_token_id"] = int(config["video_token_id"])
    generation_file.write_text(json.dumps(generation, indent=2), encoding="utf-8")
    processor_file = checkpoint / "processor_config.json"
    processor = json.loads(processor_file.read_text(encoding="utf-8"))
    processor["image_processor"]["size"]["shortest_edge"] = int(frame_pixels)
    processor_file.write_text(json.dumps(processor, indent=2), encoding="utf-8")


def work_rows(prompter: Any, env: Any, count: int) -> list[dict[str, Any]]:
    """The first ``count`` samples of ``env`` as the policy is shown them
    (:func:`stvg.exports.samples.export_samples`): chat messages, prompt text, frames,
    their timing, target text, the verifier's ground-truth record (JSON) and token counts."""
    from stvg.exports.samples import export_samples

    rows = []
    for sample in export_samples(prompter, env, limit=count):
        rows.append(
            {
                "sample_id": sample.sample_id,
                "messages": sample.messages,
                "prompt_text": sample.prompt_text,
                "frames": sample.frames,
                "shown": sample.shown,
                "target": sample.target,
                "ground_truth": json.dumps(sample.ground_truth),
                "prompt_tokens": sample.prepared.prompt_tokens,
                "visual_tokens": sample.prepared.visual_tokens,
            }
        )
    return rows


def build_checkpoint_and_data(args: argparse.Namespace, tmp: Path) -> None:
    """The small checkpoint (:func:`align_checkpoint`), the split, and ``work.pkl``: every
    sample as the policy is shown it (:func:`work_rows`), read by the TRL modes."""
    from stvg.data.synthetic import ensure_synthetic_split
    from stvg.exports.samples import build_export_env
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.prompter import VLMPrompter
    from stvg.policies.vlm.tiny import SMALL, TINY, build_checkpoint

    size = SMALL if args.size == "small" else TINY
    args.checkpoint = build_checkpoint(args.family, tmp / "model", size, seed=0)
    align_checkpoint(args.checkpoint, args.max_side * args.max_side)
    args.data = tmp / "data"
    count = max(args.samples, args.prompts * (1 + args.repeats))
    ensure_synthetic_split(args.data, SPLIT, count, 0, "easy")
    prompter = VLMPrompter(VLMPolicyConfig(**policy_config(args)))
    env = build_export_env(prompter, {**env_kwargs(args), "split": SPLIT})
    rows = work_rows(prompter, env, count)
    env.close()
    args.work = tmp / "work.pkl"
    args.work.write_bytes(pickle.dumps(rows))


def image_frames(frames: Any, layout: str) -> list[Any]:
    """The frames TRL gets as images: every second one (``half``) or all."""
    return list(frames[::2] if layout == "half" else frames)


def image_messages(messages: list[dict[str, Any]], images: int) -> list[dict[str, Any]]:
    """``messages`` with their video content item replaced by ``images`` image items."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            out.append({"role": message["role"], "content": [{"type": "text", "text": content}]})
            continue
        parts: list[dict[str, Any]] = []
        for item in content:
            parts.extend([{"type": "image"}] * images if item["type"] == "video" else [item])
        out.append({"role": message["role"], "content": parts})
    return out


def token_counts(args: argparse.Namespace) -> dict[str, float]:
    """Mean prompt, visual and target tokens per sample, video and image layouts."""
    import numpy as np
    from transformers import AutoProcessor

    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.prompter import VLMPrompter

    rows = pickle.loads(args.work.read_bytes())[: args.samples]
    processor = AutoProcessor.from_pretrained(args.checkpoint)
    tokenizer = processor.tokenizer
    prompter = VLMPrompter(VLMPolicyConfig(**policy_config(args)))
    image_prompt, image_visual, same_pixels = [], [], []
    for row in rows:
        images = image_frames(row["frames"], args.trl_images)
        text = processor.apply_chat_template(
            image_messages(row["messages"], len(images)), add_generation_prompt=True
        )
        out = processor(text=[text], images=images, return_tensors="pt")
        ids = out["input_ids"][0]
        image_prompt.append(int(ids.shape[0]))
        image_visual.append(int((ids == tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum()))
        video = prompter.encode(row["frames"], "", row["shown"]).pixel_values_videos
        same_pixels.append(tuple(out["pixel_values"].shape) == tuple(video.shape))
    targets = [len(tokenizer(r["target"], add_special_tokens=False)["input_ids"]) for r in rows]
    return {
        "video_prompt_tokens": float(np.mean([r["prompt_tokens"] for r in rows])),
        "video_visual_tokens": float(np.mean([r["visual_tokens"] for r in rows])),
        "image_prompt_tokens": float(np.mean(image_prompt)),
        "image_visual_tokens": float(np.mean(image_visual)),
        "target_tokens": float(np.mean(targets)) + 1,  # + <|im_end|>
        "vision_input_equal": all(same_pixels),
    }


# --------------------------------------------------------------------------- our modes


class Clock:
    """Wall-clock and CPU (this process, all threads) seconds between marks."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def mark(self) -> None:
        """Record the current times."""
        self.marks.append((time.perf_counter(), time.process_time()))

    def spans(self, ends: list[int] | None = None) -> tuple[list[float], list[float]]:
        """``(wall, cpu)`` seconds from the mark before each of ``ends`` (mark indices;
        default: every mark but the first) to it."""
        ends = list(range(1, len(self.marks))) if ends is None else ends
        wall = [self.marks[i][0] - self.marks[i - 1][0] for i in ends]
        cpu = [self.marks[i][1] - self.marks[i - 1][1] for i in ends]
        return wall, cpu


def timed(samples: int, wall: list[float], cpu: list[float]) -> dict[str, Any]:
    """A mode's figures from its timed runs (the warm-up already left out)."""
    return {
        "samples": samples,
        "seconds": min(wall),
        "cpu_seconds": min(cpu),
        "runs": wall,
        "cpu_runs": cpu,
    }


def run_ours_sft(args: argparse.Namespace) -> dict[str, Any]:
    """``train_sft_vlm`` for ``1 + repeats`` epochs, timed between its per-epoch log lines
    (the first one, ``data: ...``, comes just before the first epoch)."""
    from stvg.config import from_dict
    from stvg.training.sft.vlm import VLMSFTConfig, train_sft_vlm

    config = from_dict(
        VLMSFTConfig,
        {
            "policy": {"name": "vlm", "config": policy_config(args)},
            "env": env_kwargs(args),
            "data": {
                "train_split": SPLIT,
                "eval_split": None,
                "generate": False,
                "limit_train": args.samples,
            },
            "epochs": 1 + args.repeats,
            "batch_size": args.batch_size,
            "micro_batch_size": args.micro_batch_size,
            "lr": 1e-5,
            "threads": args.threads,
            "out_dir": str(Path(args.tmp) / "ours_sft"),
        },
    )
    clock, lines = Clock(), []

    def log(line: str) -> None:
        clock.mark()
        lines.append(line)

    result = train_sft_vlm(config, progress=False, log=log)
    work = pickle.loads(args.work.read_bytes())
    used = {
        json.loads(line)["sample_id"]: json.loads(line)["target"]
        for line in (result.run_dir / "targets.jsonl").read_text(encoding="utf-8").splitlines()
    }
    if any(used[r["sample_id"]] != r["target"] for r in work[: args.samples]):
        raise RuntimeError("train_sft_vlm trained on other targets than the TRL modes")
    epochs = [i for i, line in enumerate(lines) if line.startswith("epoch ")]
    if not lines[0].startswith("data:") or epochs != list(range(1, 2 + args.repeats)):
        raise RuntimeError(f"unexpected train_sft_vlm log lines: {lines}")
    return timed(args.samples, *clock.spans(epochs[1:]))


def run_ours_grpo(args: argparse.Namespace) -> dict[str, Any]:
    """``1 + repeats`` GRPO iterations of :class:`Trainer` (in-process rollouts)."""
    import numpy as np

    from stvg.config import from_dict
    from stvg.training.config import TrainConfig
    from stvg.training.loop import Trainer

    rows = args.prompts * args.group_size
    config = from_dict(
        TrainConfig,
        {
            "algorithm": "grpo",
            "seed": 0,
            "out_dir": str(Path(args.tmp) / "ours_grpo"),
            "iterations": 1000,  # never reached: no final checkpoint
            "batch_size": args.prompts,
            "micro_batch_size": args.micro_batch_size,
            "learning_rate": 1e-6,
            "checkpoint_every": 1000,
            "greedy_every": 0,
            "progress_bar": False,
            "torch_threads": args.threads,
            "env": {
                "id": "stvg/Grounding-v0",
                "kwargs": {**env_kwargs(args), "split": SPLIT, "action_format": "text"},
            },
            "policy": {"name": "vlm", "config": policy_config(args)},
            "grpo": {"group_size": args.group_size, "loss_type": "grpo", "beta": 0.0},
            "rollout": {"num_workers": 0, "task_size": args.prompts},
        },
    )
    trainer = Trainer.create(config, tensorboard=False)
    clock, lengths = Clock(), []
    try:
        clock.mark()
        for _ in range(1 + args.repeats):
            metrics = trainer.step()
            clock.mark()
            lengths.append(metrics["completions/mean_length"])
    finally:
        trainer.close()
    if not np.allclose(lengths, args.completion_tokens):
        raise RuntimeError(f"completions of {lengths} tokens, not {args.completion_tokens}")
    return timed(rows, *clock.spans(list(range(2, 2 + args.repeats))))


# --------------------------------------------------------------------------- TRL's modes


class VideoCollator:
    """TRL's prompt-completion vision collation with the frames as a video.

    What ``DataCollatorForVisionLanguageModeling._collate_prompt_completion`` does (one
    processor call for the batch's prompts, left-padded; completions right-padded after
    them; labels ``-100`` on prompt and padding; ``mm_token_type_ids`` 0 on completions),
    with ``videos=`` (and the policy's video-processor arguments) instead of ``images=``.
    """

    def __init__(
        self, processor: Any, family: str, geometry: Any, work: list[dict[str, Any]]
    ) -> None:
        from stvg.training.sft.vlm import end_of_turn_id

        self.work = work
        self.processor = processor
        self.family = family
        self.geometry = geometry
        self.end_of_turn = end_of_turn_id(processor.tokenizer)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch
        from trl.trainer.utils import flush_left, pad

        from stvg.policies.vlm.video import clip_and_metadata, video_kwargs

        rows = [self.work[int(e["index"])] for e in examples]
        temporal = int(self.processor.video_processor.temporal_patch_size)
        clips, metadata = zip(
            *(clip_and_metadata(self.family, r["frames"], r["shown"], temporal) for r in rows),
            strict=True,
        )
        prompts = self.processor(
            text=[r["prompt_text"] for r in rows],
            videos=list(clips),
            videos_kwargs={**video_kwargs(self.geometry), "video_metadata": list(metadata)},
            padding=True,
            padding_side="left",
            return_tensors="pt",
        )
        tokenizer = self.processor.tokenizer
        completions = [
            torch.tensor(
                [*tokenizer(r["target"], add_special_tokens=False)["input_ids"], self.end_of_turn]
            )
            for r in rows
        ]
        completion_ids = pad(completions, padding_value=tokenizer.pad_token_id)
        completion_mask = pad([torch.ones_like(c) for c in completions], padding_value=0)
        input_ids = torch.cat((prompts["input_ids"], completion_ids), dim=1)
        attention_mask = torch.cat((prompts["attention_mask"], completion_mask), dim=1)
        loss_mask = torch.cat((torch.zeros_like(prompts["attention_mask"]), completion_mask), 1)
        types = torch.cat((prompts["mm_token_type_ids"], torch.zeros_like(completion_ids)), 1)
        attention_mask, input_ids, loss_mask, types = flush_left(
            attention_mask, input_ids, loss_mask, types
        )
        labels = input_ids.masked_fill(loss_mask == 0, -100)
        out = dict(prompts)
        out.update(
            input_ids=input_ids,
            attention_mask=attention_mask,
            mm_token_type_ids=types,
            labels=labels,
        )
        return out


def make_timer() -> Any:
    """A transformers ``TrainerCallback`` with a :class:`Clock` marking the start and
    end of each epoch (``.epochs``) and one marking the end of each optimiser step
    (``.steps``, from the training's start: a step counts from the previous step's end, so
    loading and collating its batch count)."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.epochs, self.steps = Clock(), Clock()

        def on_epoch_begin(self, *_: Any, **__: Any) -> None:
            self.epochs.mark()

        def on_epoch_end(self, *_: Any, **__: Any) -> None:
            self.epochs.mark()

        def on_train_begin(self, *_: Any, **__: Any) -> None:
            self.steps.mark()

        def on_step_end(self, *_: Any, **__: Any) -> None:
            self.steps.mark()

    return Timer()


def trl_common(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """``TrainingArguments`` both TRL modes share."""
    return {
        "output_dir": str(Path(args.tmp) / name),
        "per_device_train_batch_size": args.micro_batch_size,
        "report_to": [],
        "use_cpu": True,
        "bf16": False,
        "fp16": False,
        "gradient_checkpointing": False,
        "save_strategy": "no",
        "logging_strategy": "no",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "remove_unused_columns": False,
        "seed": 0,
    }


def load_model(args: argparse.Namespace) -> tuple[Any, Any]:
    """The checkpoint as TRL users load it: ``AutoModelForImageTextToText`` in float32 and
    its ``AutoProcessor``."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(args.checkpoint, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(args.checkpoint)
    return model, processor


def image_dataset(args: argparse.Namespace, work: list[dict[str, Any]], column: str) -> Any:
    """TRL's conversational vision rows of ``work`` (image layout): ``prompt``, ``images``
    and ``column`` (``completion``: the target as the assistant's message; ``ground_truth``:
    the verifier's record), a ``datasets.Dataset`` as ``stvg export trl`` writes it."""
    import datasets
    from PIL import Image

    part = {"type": datasets.Value("string"), "text": datasets.Value("string")}
    message = {"role": datasets.Value("string"), "content": [part]}
    features = {"prompt": [message], "images": [datasets.Image()]}
    features[column] = [message] if column == "completion" else datasets.Value("string")
    rows = []
    for row in work:
        frames = image_frames(row["frames"], args.trl_images)
        value: Any = row["ground_truth"]
        if column == "completion":
            value = [{"role": "assistant", "content": [{"type": "text", "text": row["target"]}]}]
        rows.append(
            {
                "prompt": image_messages(row["messages"], len(frames)),
                "images": [Image.fromarray(f) for f in frames],
                column: value,
            }
        )
    return datasets.Dataset.from_list(rows, features=datasets.Features(features))


def run_trl_sft(args: argparse.Namespace, images: bool) -> dict[str, Any]:
    """``SFTTrainer`` for ``1 + repeats`` epochs (video collator, or TRL's own on images)."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.prompter import checkpoint_contract

    if args.batch_size % args.micro_batch_size:
        raise ValueError("--batch-size must be a multiple of --micro-batch-size")
    work = pickle.loads(args.work.read_bytes())[: args.samples]
    model, processor = load_model(args)
    collator = None
    if images:
        dataset = image_dataset(args, work, "completion")
    else:  # rows name their sample; the collator holds the decoded frames
        _, spec = checkpoint_contract(VLMPolicyConfig(**policy_config(args)))
        collator = VideoCollator(processor, args.family, spec.geometry, work)
        dataset = datasets.Dataset.from_dict({"index": list(range(len(work)))})
    config = SFTConfig(
        **trl_common(args, "trl_sft_images" if images else "trl_sft"),
        gradient_accumulation_steps=args.batch_size // args.micro_batch_size,
        num_train_epochs=1 + args.repeats,
        learning_rate=1e-5,
        lr_scheduler_type="cosine",
        max_length=None,
        dataset_kwargs={"skip_prepare_dataset": True},
    )
    timer = make_timer()
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        data_collator=collator,
        callbacks=[timer],
    )
    trainer.train()
    epochs = list(range(3, 2 * (1 + args.repeats), 2))  # marks: begin 0, end 1, begin 2, ...
    return timed(args.samples, *timer.epochs.spans(epochs))


def run_trl_grpo(args: argparse.Namespace) -> dict[str, Any]:
    """``GRPOTrainer`` for ``1 + repeats`` steps (one generation batch each)."""
    from trl import GRPOConfig, GRPOTrainer

    from stvg.verifiers.adapters import make_trl_reward

    rows = args.prompts * args.group_size
    if rows % args.micro_batch_size:
        raise ValueError("--prompts x --group-size must be a multiple of --micro-batch-size")
    work = pickle.loads(args.work.read_bytes())
    model, processor = load_model(args)
    dataset = image_dataset(args, work, "ground_truth")
    tokenizer = processor.tokenizer
    suppress = [tokenizer.convert_tokens_to_ids(t) for t in (*VISION_TOKENS, "<|im_end|>")]
    config = GRPOConfig(
        **trl_common(args, "trl_grpo"),
        gradient_accumulation_steps=rows // args.micro_batch_size,
        num_generations=args.group_size,
        max_completion_length=args.completion_tokens,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        repetition_penalty=1.0,
        beta=0.0,
        loss_type="grpo",
        num_iterations=1,
        max_steps=1 + args.repeats,
        learning_rate=1e-6,
        lr_scheduler_type="constant",
        generation_kwargs={"suppress_tokens": suppress},
    )
    timer = make_timer()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[make_trl_reward()],
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=[timer],
    )
    lengths: list[int] = []
    generate = trainer._generate

    def counted(prompts: list) -> Any:
        out = generate(prompts)
        lengths.extend(len(ids) for ids in out[1])  # the completions' token ids
        return out

    trainer._generate = counted
    trainer.train()
    if set(lengths) != {args.completion_tokens}:
        raise RuntimeError(
            f"completions of {sorted(set(lengths))} tokens, not {args.completion_tokens}"
        )
    return timed(rows, *timer.steps.spans(list(range(2, 2 + args.repeats))))


# --------------------------------------------------------------------------- driver


def run_mode(args: argparse.Namespace) -> dict[str, Any]:
    """Time one mode in this process; returns its figures (the child side)."""
    import torch

    torch.set_num_threads(args.threads)
    import trl  # noqa: F401  (every mode pays the same imports before "after imports")

    import stvg.training.loop  # noqa: F401

    imported_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runners = {
        "ours_sft": run_ours_sft,
        "trl_sft": lambda a: run_trl_sft(a, images=False),
        "trl_sft_images": lambda a: run_trl_sft(a, images=True),
        "ours_grpo": run_ours_grpo,
        "trl_grpo": run_trl_grpo,
    }
    figures = runners[args.mode](args)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": args.mode,
        **figures,
        "peak_rss_mib": peak_kib / 1024,
        "imported_rss_mib": imported_kib / 1024,
        "threads": torch.get_num_threads(),
    }


def merge_rounds(processes: list[dict[str, Any]]) -> dict[str, Any]:
    """One mode's figures over its processes (one per round): the fastest timed run (wall
    clock and CPU time, each on its own), every timed run, the highest peak memory and the
    largest growth over the imports."""
    samples = processes[0]["samples"]
    seconds = min(p["seconds"] for p in processes)
    cpu_seconds = min(p["cpu_seconds"] for p in processes)
    return {
        "mode": processes[0]["mode"],
        "samples": samples,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "samples_per_s": samples / seconds,
        "samples_per_cpu_s": samples / cpu_seconds,
        "runs": [t for p in processes for t in p["runs"]],
        "cpu_runs": [t for p in processes for t in p["cpu_runs"]],
        "peak_rss_mib": max(p["peak_rss_mib"] for p in processes),
        "run_mib": max(p["peak_rss_mib"] - p["imported_rss_mib"] for p in processes),
        "processes": processes,
    }


def child_argv(args: argparse.Namespace, mode: str) -> list[str]:
    """The command line of a child process timing ``mode``."""
    argv = [sys.executable, __file__, "--mode", mode, "--tmp", str(args.tmp)]
    argv += ["--checkpoint", str(args.checkpoint), "--data", str(args.data)]
    argv += ["--work", str(args.work)]
    for name in (
        "family",
        "size",
        "samples",
        "batch_size",
        "micro_batch_size",
        "prompts",
        "group_size",
        "completion_tokens",
        "max_side",
        "threads",
        "repeats",
        "trl_images",
    ):
        argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="qwen2.5-vl", choices=("qwen2.5-vl", "qwen3-vl"))
    parser.add_argument("--size", default="small", choices=("small", "tiny"))
    parser.add_argument("--samples", type=int, default=8, help="SFT samples per epoch")
    parser.add_argument("--batch-size", type=int, default=8, help="SFT samples per step")
    parser.add_argument("--micro-batch-size", type=int, default=4, help="rows per pass")
    parser.add_argument("--prompts", type=int, default=2, help="GRPO prompts per step")
    parser.add_argument("--group-size", type=int, default=4, help="GRPO completions each")
    parser.add_argument("--completion-tokens", type=int, default=32)
    parser.add_argument("--max-side", type=int, default=128, help="shown frame side, pixels")
    parser.add_argument("--trl-images", default="half", choices=("half", "all"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per mode")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per process")
    parser.add_argument("--rounds", type=int, default=2, help="processes per mode, interleaved")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--out", help="write the figures as JSON here")
    for hidden in ("mode", "tmp", "checkpoint", "data", "work"):
        parser.add_argument(f"--{hidden}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode is not None:  # child: one mode, figures as JSON on stdout
        args.work, args.checkpoint = Path(args.work), Path(args.checkpoint)
        print(json.dumps(run_mode(args)))
        return 0

    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"--modes: unknown {unknown}; choose from {list(MODES)}")
    processes: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = Path(tmp)
        build_checkpoint_and_data(args, args.tmp)
        tokens = token_counts(args)
        for _ in range(args.rounds):  # modes interleaved: a slow spell hits all of them
            for mode in modes:
                done = subprocess.run(child_argv(args, mode), capture_output=True, text=True)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return done.returncode
                processes[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = [merge_rounds(runs) for runs in processes.values()]

    print(
        f"{args.family} {args.size}, {args.max_side}px frames at 1 fps, {args.threads} threads; "
        f"SFT {args.samples} samples, batch {args.batch_size}, micro-batch "
        f"{args.micro_batch_size}; GRPO {args.prompts} prompts x {args.group_size} "
        f"completions of {args.completion_tokens} tokens"
    )
    print(
        f"tokens per sample: video prompt {tokens['video_prompt_tokens']:.0f} "
        f"({tokens['video_visual_tokens']:.0f} visual), image prompt "
        f"{tokens['image_prompt_tokens']:.0f} ({tokens['image_visual_tokens']:.0f} visual, "
        f"--trl-images {args.trl_images}), target {tokens['target_tokens']:.0f}; "
        "vision-tower input of the images "
        + ("= the video's" if tokens["vision_input_equal"] else "!= the video's")
    )
    header = (
        f"{'mode':<15} {'samples':>7} {'seconds':>8} {'samples/s':>9} {'CPU s':>6} "
        f"{'per CPU s':>9} {'peak MiB':>9} {'+MiB run':>9}  timed runs (wall s)"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['mode']:<15} {row['samples']:>7} {row['seconds']:>8.2f} "
            f"{row['samples_per_s']:>9.3f} {row['cpu_seconds']:>6.2f} "
            f"{row['samples_per_cpu_s']:>9.3f} {row['peak_rss_mib']:>9.0f} "
            f"{row['run_mib']:>9.0f}  " + " ".join(f"{t:.2f}" for t in row["runs"])
        )
    by_mode = {row["mode"]: row for row in rows}
    ratios = []
    for task, ours, theirs in PAIRS:
        if ours in by_mode and theirs in by_mode:
            a, b = by_mode[ours], by_mode[theirs]
            ratios.append(
                {
                    "task": task,
                    "ours": ours,
                    "trl": theirs,
                    "speed": a["samples_per_s"] / b["samples_per_s"],
                    "cpu_speed": a["samples_per_cpu_s"] / b["samples_per_cpu_s"],
                    "peak_memory": b["peak_rss_mib"] / a["peak_rss_mib"],
                    "run_memory": b["run_mib"] / max(a["run_mib"], 1e-9),
                }
            )
    if ratios:
        print()
        header = (
            f"{'task':<5} {'ours vs TRL':<28} {'speed ours/TRL':>14} {'per CPU s':>9} "
            f"{'peak TRL/ours':>13} {'+MiB TRL/ours':>13}"
        )
        print(header)
        print("-" * len(header))
        for r in ratios:
            print(
                f"{r['task']:<5} {r['ours'] + ' vs ' + r['trl']:<28} {r['speed']:>14.2f} "
                f"{r['cpu_speed']:>9.2f} {r['peak_memory']:>13.2f} {r['run_memory']:>13.2f}"
            )
    if args.out:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        for key in ("tmp", "checkpoint", "data", "work", "mode"):
            settings.pop(key, None)
        Path(args.out).write_text(
            json.dumps(
                {"args": settings, "tokens": tokens, "rows": rows, "ratios": ratios}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
