"""The report of a pipeline run: ``report.md``, a learning-curve PNG and per-sample figures.

``report.md`` holds the command and seed, the test metrics before and after RL (with the
change), the cost of answering (frames shown, visual tokens, policy time per sample), the
RL training figures and the wall time of every stage. ``learning_curve.png`` plots, per RL
iteration, the mean reward (titled with its terms and range: ``reward = t_iou + v_iou +
3·l1 (0 to 5)``) and the sampled answers' tIoU and vIoU (thin lines) with a
moving average (thick lines), the deterministic answers' vIoU (``rewards/greedy/v_iou``,
every ``greedy_every`` iterations), and the test m_vIoU before and after RL as dashed
levels.
For a text policy (or any policy with an unusable answer) the metrics are followed by the
answers' parse rate, well-formed rate and failure reasons before and after RL, and the
first failure's raw text (:mod:`stvg.evaluation.answers`).
The ``## Test samples`` section (:mod:`stvg.experiments.report_samples`) adds tIoU and
vIoU histograms of the test samples before and after RL and contact sheets of the best and
worst 3 test samples by vIoU (left out when the evaluation folders are missing).
Plots use Matplotlib's ``Agg`` backend, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stvg.evaluation.answers import answers_line
from stvg.experiments.report_samples import samples_section
from stvg.training.run_dir import read_metrics
from stvg.verifiers.metrics import HEADLINE_METRICS

CURVE_FILE = "learning_curve.png"
METRIC_ROWS = tuple((name, name) for name in HEADLINE_METRICS)


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start).

    >>> moving_average([1.0, 3.0, 5.0], 2).tolist()
    [1.0, 2.0, 4.0]
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x
    cumsum = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, x.size + 1)
    lo = np.maximum(idx - window, 0)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def reward_label(reward: Mapping[str, Any] | None) -> str:
    """The reward curve's label: the terms of the total and its range.

    >>> reward_label({"formula": "t_iou + v_iou + 3·l1", "min": 0.0, "max": 5.0})
    'reward = t_iou + v_iou + 3·l1 (0 to 5)'
    >>> reward_label({"formula": "t_iou + short_span", "min": None, "max": None})
    'reward = t_iou + short_span (range unknown: a term declares none)'
    """
    if not reward:
        return "reward (verifier total)"
    text = f"reward = {reward['formula']}"
    if reward.get("max") is None:
        return f"{text} (range unknown: a term declares none)"
    return f"{text} ({reward['min']:g} to {reward['max']:g})"


def plot_learning_curve(
    lines: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    test_before: float | None = None,
    test_after: float | None = None,
    reward: Mapping[str, Any] | None = None,
) -> Path:
    """Plot reward, tIoU and vIoU per iteration (see the module docstring) into ``path``;
    ``reward`` (``summary["reward"]``: formula, min, max) labels the reward panel with
    its terms and range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    iterations = [int(line["iteration"]) for line in lines]
    window = max(1, len(lines) // 20)
    fig, (ax_reward, ax_iou) = plt.subplots(1, 2, figsize=(11, 4))
    series = [
        (ax_reward, "rewards/sampled/total", "sampled answers", "tab:purple"),
        (ax_iou, "rewards/sampled/t_iou", "tIoU (sampled answers)", "tab:blue"),
        (ax_iou, "rewards/sampled/v_iou", "vIoU (sampled answers)", "tab:orange"),
        (ax_iou, "rewards/greedy/v_iou", "vIoU (deterministic answers)", "tab:red"),
    ]
    for ax, key, label, colour in series:
        values = [line.get(key) for line in lines]
        points = [(i, v) for i, v in zip(iterations, values, strict=True) if v is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(xs, moving_average(ys, window), color=colour, linewidth=2.0, label=label)
    if test_before is not None:
        ax_iou.axhline(
            test_before,
            color="grey",
            linestyle="--",
            label=f"test m_vIoU before RL ({test_before:.3f})",
        )
    if test_after is not None:
        ax_iou.axhline(
            test_after,
            color="black",
            linestyle="--",
            label=f"test m_vIoU after RL ({test_after:.3f})",
        )
    ax_reward.set_title(f"RL {reward_label(reward)}", fontsize=9)
    ax_reward.set_ylabel(
        "reward" if not reward or reward.get("max") is None else f"reward (max {reward['max']:g})"
    )
    ax_iou.set_ylabel("IoU (0 to 1)")
    ax_iou.set_title("IoU per iteration")
    for ax in (ax_reward, ax_iou):
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _pct(value: float) -> str:
    return f"{100.0 * value:.2f}"


def metrics_table(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Markdown table of the test metrics (percent) before and after RL and the change."""
    rows = ["| metric (test, %) | SFT (before RL) | after RL | change |", "|---|---:|---:|---:|"]
    for key, label in METRIC_ROWS:
        if key in before and key in after:
            b, a = float(before[key]), float(after[key])
            rows.append(f"| {label} | {_pct(b)} | {_pct(a)} | {100.0 * (a - b):+.2f} |")
    return "\n".join(rows)


def cost_table(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Markdown table of the mean cost per test sample before and after RL."""
    keys = sorted(set(before) | set(after))
    rows = ["| cost per test sample | SFT | after RL |", "|---|---:|---:|"]
    for key in keys:
        b, a = before.get(key), after.get(key)
        fmt = "{:.4f}" if "seconds" in key else "{:.2f}" if key in ("zooms", "turns") else "{:.1f}"
        rows.append(
            f"| {key} | {fmt.format(b) if b is not None else '-'} | "
            f"{fmt.format(a) if a is not None else '-'} |"
        )
    return "\n".join(rows)


def zoom_rules_section(
    after: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]] | None
) -> list[str]:
    """The "zoom rules" section: the RL policy's own zooms against scripted zoom rules
    around the same answerer (``eval.zoom_rules``), quality and cost per test sample; no
    lines without rules."""
    if not rules:
        return []
    rows = [
        "## Zoom rules (the same answerer)",
        "",
        "| zoom decision | m_vIoU (%) | m_tIoU (%) | frames | zooms | turns |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    entries = [("learned (after RL)", after), *((f"rule {k}", v) for k, v in rules.items())]
    for label, record in entries:
        metrics, cost = record["metrics"], record.get("cost", {})

        def pct(key: str, metrics: Mapping[str, Any] = metrics) -> str:
            return _pct(float(metrics[key])) if key in metrics else "-"

        def num(key: str, cost: Mapping[str, Any] = cost) -> str:
            return f"{float(cost[key]):.2f}" if key in cost else "-"

        rows.append(
            f"| {label} | {pct('m_vIoU')} | {pct('m_tIoU')} | {num('frames_shown')} | "
            f"{num('zooms')} | {num('turns')} |"
        )
    rows += [
        "",
        "Rules (`stvg.policies.zoom`): `none` answers on the glance, `oracle` zooms once on "
        "the ground-truth span +- the margin (the bound of the mechanism), `random` on a "
        "window of the oracle's width placed at random (the control of where to look).",
        "",
    ]
    return rows


def _threads_line(threads: Mapping[str, Any] | None) -> list[str]:
    """The torch thread counts the run used (its numbers depend on them), or nothing."""
    if not threads:
        return []
    parts = []
    if threads.get("sft") is not None:
        parts.append(f"SFT {threads['sft']}")
    if threads.get("rl_learner") is not None:
        parts.append(f"RL learner {threads['rl_learner']}")
    if threads.get("rl_workers"):
        parts.append(
            f"{threads['rl_workers']} rollout workers x {threads.get('rl_threads_per_worker')}"
        )
    if not parts:
        return []
    return [
        f"- torch threads: {', '.join(parts)} (the numbers depend on them: another count "
        "sums floats in another order; set sft.threads and rl.torch_threads to compare runs)"
    ]


def _answer_lines(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What the policy's answers were before scoring: the parse rate, the well-formed
    rate and the failure reasons, before and after RL, and the first failure's raw text;
    shown for a text policy, or for any policy with an unusable answer."""
    lines = []
    for label, record in (("before RL", before), ("after RL", after)):
        stats = record.get("answers")
        if not stats or not (record.get("action_format") == "text" or stats["parsed"] < stats["n"]):
            continue
        lines.append(f"- {label}: {answers_line(stats)}")
        first = stats.get("first_failure")
        if first is not None:
            text = first.get("answer_text") or "(no text)"
            lines.append(
                f"  first failure `{first['sample_id']}`: {first['parse_error']}; raw answer: "
                f"`{text.replace('`', chr(39))}`"
            )
    if not lines:
        return []
    return [
        "",
        "Answers (each test sample's raw text is in `eval_sft/per_sample.jsonl` and "
        "`eval_rl/per_sample.jsonl`, `answer_text`):",
        "",
        *lines,
    ]


def _bad_video_lines(bad_videos: list[Mapping[str, str]]) -> list[str]:
    """Report lines listing the test samples left out for an unreadable video
    (``eval.on_bad_video: skip``); none when there were none."""
    if not bad_videos:
        return []
    return [
        "",
        f"Left out: {len(bad_videos)} test sample(s) whose video is unreadable "
        "(`eval.on_bad_video: skip`):",
        *(f"- `{bad['sample_id']}`: {bad['reason']}" for bad in bad_videos),
    ]


def write_report(run_dir: str | Path, summary: Mapping[str, Any], rl_run_dir: str | Path) -> Path:
    """Write ``report.md``, ``learning_curve.png`` and the per-sample figures
    (``iou_histograms.png``, ``gallery/*.png``) into ``run_dir``.

    Args:
        run_dir: the pipeline's run folder.
        summary: the pipeline summary (see :func:`stvg.experiments.run.run_experiment`);
            the per-sample figures read the evaluation folders
            ``summary["eval_dirs"]["sft"]`` / ``["rl"]`` (default ``run_dir/eval_sft`` and
            ``run_dir/eval_rl``) and the test split under ``summary["data_root"]``.
        rl_run_dir: the RL run directory (its ``metrics.jsonl`` is plotted).

    Returns:
        the path of ``report.md``.
    """
    run_dir = Path(run_dir)
    lines = read_metrics(rl_run_dir)
    before, after = summary["before_rl"], summary["after_rl"]
    plot_learning_curve(
        lines,
        run_dir / CURVE_FILE,
        test_before=before["metrics"].get("m_vIoU"),
        test_after=after["metrics"].get("m_vIoU"),
        reward=summary.get("reward"),
    )
    timings = summary["timings_s"]
    last = lines[-1] if lines else {}
    sps = [line["charts/SPS"] for line in lines if line.get("charts/SPS") is not None]
    text = [
        f"# Run report: {summary['name']}",
        "",
        f"- command: `{summary.get('command') or '(API call)'}`",
        f"- seed: {summary['seed']}",
        f"- policy: {summary.get('policy', 'native')}",
        f"- data: `{summary['data_root']}`",
        *_synthesis_lines(summary.get("synthesis")),
        f"- SFT checkpoint: `{summary['sft_checkpoint']}`"
        if summary.get("sft_checkpoint")
        else "- SFT: none (RL starts from the policy's fresh weights)",
        f"- RL run: `{summary['rl_run_dir']}` ({summary['rl_algorithm']}, "
        f"{summary['rl_iterations']} iterations, {summary['rl_num_workers']} Ray rollout workers)",
        f"- RL checkpoint: `{summary['rl_checkpoint']}`",
        *_threads_line(summary.get("threads")),
        f"- wall time: {timings['total_s']:.1f} s",
        "",
        "## Test metrics before and after RL",
        "",
        metrics_table(before["metrics"], after["metrics"]),
        "",
        f"Samples: {before['metrics'].get('n', '?')} (official HC-STVG protocol on native frames; "
        "deterministic answers of the policy).",
        *_answer_lines(before, after),
        *_bad_video_lines(before.get("bad_videos", [])),
        "",
        *samples_section(run_dir, summary),
        "## Cost of answering",
        "",
        cost_table(before["cost"], after["cost"]),
        "",
        *zoom_rules_section(after, summary.get("zoom_rules")),
        "## RL training",
        "",
        f"![learning curve]({CURVE_FILE})",
        "",
        f"- {reward_label(summary.get('reward'))}: the reward curve's scale",
        f"- last iteration: reward {last.get('rewards/sampled/total', float('nan')):.4f}, "
        f"tIoU {last.get('rewards/sampled/t_iou', float('nan')):.4f}, "
        f"vIoU {last.get('rewards/sampled/v_iou', float('nan')):.4f} "
        "(sampled answers on the train split)",
        f"- answers sampled: {int(last.get('charts/global_step', 0))}; mean samples/s "
        f"{(float(np.mean(sps)) if sps else float('nan')):.1f}",
        "",
        "## Wall time per stage",
        "",
        "| stage | seconds |",
        "|---|---:|",
        *(f"| {key[:-2]} | {value:.1f} |" for key, value in timings.items()),
        "",
    ]
    path = run_dir / "report.md"
    path.write_text("\n".join(text), encoding="utf-8")
    return path


def _synthesis_lines(synthesis: dict[str, Any] | None) -> list[str]:
    """The report's synthesis line: teacher, kept targets and the teacher's own metrics."""
    if not synthesis:
        return []
    counts = synthesis["counts"]
    parsed = synthesis["teacher_metrics"]["over_parsed"]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}"

    return [
        f"- synthesis: teacher `{synthesis['teacher']['teacher']}`, {counts['kept']} of "
        f"{counts['written']} targets kept, {counts['replacements']} spans/boxes replaced by "
        f"the ground truth; teacher before replacement m_tIoU {pct(parsed['m_tIoU'])} / "
        f"m_vIoU {pct(parsed['m_vIoU'])} % over {parsed['n']} parsed answers "
        f"(`{synthesis['targets']}`)"
    ]


__all__ = [
    "CURVE_FILE",
    "cost_table",
    "zoom_rules_section",
    "metrics_table",
    "moving_average",
    "plot_learning_curve",
    "write_report",
]
