"""The sweep report: numbers computed by hand from fixed rows, the CSV, the plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from stvg.config import ConfigError, InvalidField, from_dict
from stvg.experiments.sweep_report import (
    SweepReportConfig,
    results_columns,
    write_results_csv,
    write_sweep_report,
)

A, B = "env.fps=1", "env.fps=2"


def trial(cell: str, seed: int, **values: Any) -> dict[str, Any]:
    fps = 1 if cell == A else 2
    row = {"trial": f"t_{fps}_{seed}", "cell": cell, "seed": seed, "status": "ok", "error": ""}
    row["axis/env.fps"] = fps
    row["run_dir"] = f"/runs/t_{fps}_{seed}"
    row["rl_metrics"] = ""
    row.update(values)
    return row


def fixed_rows() -> list[dict[str, Any]]:
    """2 cells x 3 seeds (+ one errored trial in B); metrics are fractions."""
    rows = []
    a = {  # per seed 0, 1, 2
        "sft/m_vIoU": (0.30, 0.33, 0.36),
        "final/m_vIoU": (0.40, 0.42, 0.44),
        "sft/m_tIoU": (0.50, 0.50, 0.50),
        "final/m_tIoU": (0.60, 0.62, 0.64),
        "cost/frames_shown": (8, 8, 8),
        "cost/visual_tokens/qwen2.5-vl": (512, 512, 512),
        "cost/seconds_per_query": (0.010, 0.012, 0.014),
        "wall_s": (100.0, 110.0, 120.0),
    }
    b = {
        "sft/m_vIoU": (0.35, 0.36, 0.40),
        "final/m_vIoU": (0.45, 0.46, 0.50),
        "sft/m_tIoU": (0.50, 0.50, 0.50),
        "final/m_tIoU": (0.59, 0.62, 0.66),
        "cost/frames_shown": (16, 16, 16),
        "cost/visual_tokens/qwen2.5-vl": (1024, 1024, 1024),
        "cost/seconds_per_query": (0.020, 0.020, 0.020),
        "wall_s": (200.0, 200.0, 230.0),
    }
    for cell, table in ((A, a), (B, b)):
        for seed in range(3):
            values = {key: column[seed] for key, column in table.items()}
            values["rl/m_vIoU"] = values["final/m_vIoU"]
            values["rl/m_tIoU"] = values["final/m_tIoU"]
            rows.append(trial(cell, seed, **values))
    # a failed trial with partial (absurd) numbers: it must not count anywhere
    rows.append(
        trial(
            B,
            3,
            status="error",
            error="CUDA out of memory\n  in rl stage",
            **{"sft/m_vIoU": 0.99, "final/m_vIoU": 0.99, "wall_s": 5.0},
        )
    )
    return rows


def parse_table(markdown: str, heading: str) -> list[dict[str, str]]:
    """The first markdown table after the line ``heading``, as dicts (backticks removed)."""
    lines = markdown.splitlines()
    start = lines.index(heading)
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            table.append([c.strip().strip("`") for c in line.strip().strip("|").split(" | ")])
        elif table:
            break
    header, _, *body = table
    return [dict(zip(header, row, strict=True)) for row in body]


def test_cell_table_numbers_by_hand(tmp_path: Path) -> None:
    path = write_sweep_report(
        tmp_path,
        fixed_rows(),
        SweepReportConfig(plots=[]),
        title="fps sweep",
        command="stvg sweep x.yaml",
    )
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# fps sweep")
    assert "`stvg sweep x.yaml`" in text
    assert "- trials: 6 ok, 1 errored (7 in all)" in text
    assert "`env.fps=1` 3, `env.fps=2` 3" in text
    table = {row["cell"]: row for row in parse_table(text, "## Results per cell")}
    assert list(table) == [A, B]
    a, b = table[A], table[B]
    assert a["seeds"] == b["seeds"] == "3"
    # t(0.975, 2) = 4.302653. A m_vIoU 40, 42, 44: mean 42, s = 2 -> 4.302653 * 2 / sqrt 3 = 4.97
    assert a["final/m_vIoU (%)"] == "42.00 ± 4.97"
    # B m_vIoU 45, 46, 50: mean 47, squared deviations 4 + 1 + 9 = 14, s = sqrt 7 = 2.6458
    # -> 4.302653 * 2.6458 / 1.7321 = 6.57 (the errored trial's 99 is not in it)
    assert b["final/m_vIoU (%)"] == "47.00 ± 6.57"
    assert a["final/m_tIoU (%)"] == "62.00 ± 4.97"
    # B m_tIoU 59, 62, 66: mean 62.333, deviations -3.333, -0.333, 3.667, sum of squares
    # 24.667, s = sqrt(12.333) = 3.5119 -> 4.302653 * 3.5119 / 1.7321 = 8.72
    assert b["final/m_tIoU (%)"] == "62.33 ± 8.72"
    # SFT -> final: A vIoU +10, +9, +8 (s = 1 -> 2.48); B vIoU +10 x3 (s = 0)
    assert a["m_vIoU SFT→final (pts)"] == "+9.00 ± 2.48"
    assert b["m_vIoU SFT→final (pts)"] == "+10.00 ± 0.00"
    assert b["m_tIoU SFT→final (pts)"] == "+12.33 ± 8.72"
    assert a["cost/frames_shown"] == "8.0" and b["cost/frames_shown"] == "16.0"
    assert a["cost/visual_tokens/qwen2.5-vl"] == "512.0"
    assert a["cost/seconds_per_query"] == "0.012" and b["cost/seconds_per_query"] == "0.02"
    assert a["wall_s"] == "110.0" and b["wall_s"] == "210.0"  # not (200+200+230+5)/4


def test_paired_differences_by_hand(tmp_path: Path) -> None:
    path = write_sweep_report(tmp_path, fixed_rows(), SweepReportConfig(plots=[]), title="t")
    text = path.read_text(encoding="utf-8")
    assert f"## Paired differences vs `{A}`" in text.splitlines()
    diffs = {r["metric"]: r for r in parse_table(text, f"## Paired differences vs `{A}`")}
    v, t = diffs["m_vIoU"], diffs["m_tIoU"]
    assert v["cell"] == B and v["pairs"] == "3"  # seed 3 errored: seeds 0, 1, 2 pair
    # B - A vIoU per seed: 5, 4, 6 points. The 27 resample means sorted start 4 (x1),
    # 4.333 (x3) and end 5.667 (x3), 6 (x1); linear percentiles at h = 26 * 0.025 = 0.65
    # and h = 25.35: 4 + 0.65 / 3 = 4.2167 and 6 - 0.65 / 3 = 5.7833.
    assert v["Δ vs baseline (pts)"] == "+5.00"
    assert v["95% CI (pts)"] == "[+4.22, +5.78]"
    assert v["CI excludes 0"] == "yes"
    # tIoU per seed: -1, 0, 2 -> mean 0.33; lo = -1 + 0.65 / 3 = -0.7833,
    # hi = 4/3 + 0.35 * (2 - 4/3) = 1.5667: covers 0.
    assert t["Δ vs baseline (pts)"] == "+0.33"
    assert t["95% CI (pts)"] == "[-0.78, +1.57]"
    assert t["CI excludes 0"] == "no"


def test_explicit_baseline_and_too_few_pairs(tmp_path: Path) -> None:
    rows = [*fixed_rows(), trial("env.fps=4", 0, **{"final/m_vIoU": 0.5, "final/m_tIoU": 0.6})]
    config = SweepReportConfig(baseline=B, metrics=["m_vIoU"], plots=[])
    text = write_sweep_report(tmp_path, rows, config, title="t").read_text(encoding="utf-8")
    diffs = parse_table(text, f"## Paired differences vs `{B}`")
    assert [d["cell"] for d in diffs] == [A, "env.fps=4"]
    assert diffs[0]["Δ vs baseline (pts)"] == "-5.00"
    assert diffs[0]["95% CI (pts)"] == "[-5.78, -4.22]"
    assert diffs[1]["pairs"] == "1" and diffs[1]["Δ vs baseline (pts)"] == "n/a"
    assert "need >= 2" in diffs[1]["95% CI (pts)"]
    cells = {r["cell"]: r for r in parse_table(text, "## Results per cell")}
    assert cells["env.fps=4"]["final/m_vIoU (%)"] == "50.00 (n=1)"


def test_errored_trials_are_listed(tmp_path: Path) -> None:
    path = write_sweep_report(tmp_path, fixed_rows(), SweepReportConfig(plots=[]), title="t")
    text = path.read_text(encoding="utf-8")
    (errored,) = parse_table(text, "### Errored trials (left out of every statistic)")
    assert errored == {
        "trial": "t_2_3",
        "cell": B,
        "seed": "3",
        "error": "CUDA out of memory in rl stage",
    }


def test_unknown_baseline_lists_the_cells(tmp_path: Path) -> None:
    config = SweepReportConfig(baseline="env.fps=3", plots=[])
    with pytest.raises(ConfigError, match=r"'env\.fps=3'.*cells: 'env\.fps=1', 'env\.fps=2'"):
        write_sweep_report(tmp_path, fixed_rows(), config, title="t")
    assert not (tmp_path / "report.md").exists()


def test_non_finite_metric_of_an_ok_trial_is_an_error(tmp_path: Path) -> None:
    rows = fixed_rows()
    rows[1]["final/m_vIoU"] = float("nan")
    with pytest.raises(ValueError, match=r"t_1_1.*final/m_vIoU"):
        write_sweep_report(tmp_path, rows, SweepReportConfig(plots=[]), title="t")


def test_single_cell(tmp_path: Path) -> None:
    rows = [r for r in fixed_rows() if r["cell"] == A]
    path = write_sweep_report(tmp_path, rows, SweepReportConfig(plots=[]), title="t")
    assert "Only one cell: nothing to compare." in path.read_text(encoding="utf-8")


def test_results_csv_round_trips(tmp_path: Path) -> None:
    rows = fixed_rows()
    path = write_results_csv(tmp_path / "results.csv", rows)
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        read = list(reader)
        columns = reader.fieldnames
    rest = sorted(set(rows[0]) - {"trial", "cell", "seed", "status", "axis/env.fps"})
    assert columns == ["trial", "cell", "seed", "status", "axis/env.fps", *rest]
    assert columns == results_columns(rows)
    assert len(read) == len(rows)
    for original, back in zip(rows, read, strict=True):
        for key in columns:
            value = original.get(key)
            if value is None:
                assert back[key] == ""
            elif isinstance(value, float):
                assert float(back[key]) == value
            else:
                assert back[key] == str(value)
    assert read[-1]["error"] == "CUDA out of memory\n  in rl stage"
    assert read[-1]["cost/frames_shown"] == ""  # the errored trial has no cost


def write_curve(path: Path, returns: list[float]) -> str:
    lines = [{"iteration": i + 1, "charts/episodic_return": r} for i, r in enumerate(returns)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_every_plot_kind_writes_a_png(tmp_path: Path) -> None:
    rows = fixed_rows()
    rows[0]["rl_metrics"] = write_curve(tmp_path / "a0.jsonl", [0.1, 0.2, 0.4])
    rows[1]["rl_metrics"] = write_curve(tmp_path / "a1.jsonl", [0.2, 0.3])
    rows[3]["rl_metrics"] = write_curve(tmp_path / "b0.jsonl", [0.0, float("nan"), 0.5])
    config = SweepReportConfig(
        metrics=["m_vIoU", "vIoU@0.5"],
        plots=["tradeoff", "curves", "bars"],
        cost_axes=["cost/frames_shown", "cost/seconds_per_query"],
    )
    text = write_sweep_report(tmp_path, rows, config, title="t").read_text(encoding="utf-8")
    names = [
        "tradeoff_m_vIoU.png",
        "tradeoff_vIoU_0.5.png",
        "curves.png",
        "bars_m_vIoU.png",
        "bars_vIoU_0.5.png",
    ]
    for name in names:
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert png.stat().st_size > 1000, name
        assert f"![{name}]({name})" in text
    assert "3 of 6 ok trials had RL metrics; 1 non-finite values left out" in text


def test_config_validation() -> None:
    assert SweepReportConfig().metrics == ["m_vIoU", "m_tIoU"]
    with pytest.raises(InvalidField, match="one of") as info:
        SweepReportConfig(plots=["bars", "pie"])  # type: ignore[list-item]
    assert info.value.field == "plots[1]"
    with pytest.raises(InvalidField, match="stage prefix"):
        SweepReportConfig(metrics=["final/m_vIoU"])
    with pytest.raises(InvalidField, match="twice"):
        SweepReportConfig(metrics=["m_vIoU", "m_vIoU"])
    with pytest.raises(InvalidField, match="cost axis"):
        SweepReportConfig(plots=["tradeoff"], cost_axes=[])
    with pytest.raises(ConfigError, match=r"report\.metrics"):
        from_dict(SweepReportConfig, {"metrics": []}, path="report")
    config = from_dict(SweepReportConfig, {"baseline": A, "plots": ["curves"]}, path="report")
    assert config.baseline == A and config.plots == ["curves"]


def test_curve_bands_by_hand(tmp_path: Path) -> None:
    """Two seeds 10 apart that both climb by 1 per iteration: as levels the band is wide,
    as changes since iteration 1 it is the climb itself, exactly (3 iterations: no
    smoothing window)."""
    from stvg.experiments.sweep_report import curve_bands

    rows = [
        {"rl_metrics": write_curve(tmp_path / "s0.jsonl", [1.0, 2.0, 3.0])},
        {"rl_metrics": write_curve(tmp_path / "s1.jsonl", [11.0, 12.0, 13.0])},
    ]
    levels = curve_bands({"a": rows}, "charts/episodic_return")
    iterations, cis = levels.bands["a"]
    assert iterations == [1, 2, 3] and [ci.mean for ci in cis] == [6.0, 7.0, 8.0]
    # t(0.975, 1) = 12.7062; s = 7.0711; half-width = 12.7062 * 7.0711 / sqrt(2) = 63.531
    assert cis[0].half_width == pytest.approx(63.531, abs=1e-3)
    changes = curve_bands({"a": rows}, "charts/episodic_return", change=True)
    _, cis = changes.bands["a"]
    assert [ci.mean for ci in cis] == [0.0, 1.0, 2.0]
    assert all(ci.half_width == 0.0 for ci in cis)
    assert changes.n_read == 2 and changes.windows == {1}


def test_identical_cells_and_intervals_cut_at_the_range(tmp_path: Path) -> None:
    """Cell B computed A's numbers (up to float rounding): 'identical', not 'CI excludes 0'.
    Cell C's vIoU 0, 0, 3 %: the t interval [-3.30, +5.30] is cut at 0 %, said so in the
    table, its note and the bars' caption."""
    c = "env.fps=4"
    rows = []
    for seed, (a, c_v) in enumerate(((0.3, 0.0), (0.5, 0.0), (0.7, 0.03))):
        rows.append(trial(A, seed, **{"final/m_vIoU": a, "final/m_tIoU": 0.6}))
        rows.append(
            trial(B, seed, **{"final/m_vIoU": a + 1e-17 + (0.1 + 0.2 - 0.3), "final/m_tIoU": 0.6})
        )
        rows.append(trial(c, seed, **{"final/m_vIoU": c_v, "final/m_tIoU": 0.6}))
    config = SweepReportConfig(baseline=A, metrics=["m_vIoU"], plots=["bars"])
    text = write_sweep_report(tmp_path, rows, config, title="t").read_text(encoding="utf-8")
    diffs = {d["cell"]: d for d in parse_table(text, f"## Paired differences vs `{A}`")}
    assert diffs[B]["CI excludes 0"] == "identical" and diffs[B]["Δ vs baseline (pts)"] == "0"
    assert diffs[c]["CI excludes 0"] == "yes"
    cells = {r["cell"]: r for r in parse_table(text, "## Results per cell")}
    assert cells[c]["final/m_vIoU (%)"] == "1.00 [0.00, 5.30]"
    # A: 30, 50, 70: s = 20, half-width 4.302653 * 20 / sqrt 3 = 49.68 -> [0.32, 99.68]
    assert cells[A]["final/m_vIoU (%)"] == "50.00 ± 49.68"
    assert "is cut at the bound" in text
    assert "Bars cut at the metric's range (0-100 %): `env.fps=4`." in text


def test_curve_bands_cut_at_the_keys_range(tmp_path: Path) -> None:
    """Seeds at 0.0 and 0.1 of a reward total tIoU + vIoU (range [0, 2], read from the run's
    config.yaml): the t band 0.05 ± 0.635 is cut at 0; a key of unknown range stays uncut;
    changes are cut at [-2, 2]."""
    from stvg.experiments.sweep_report import curve_bands, curve_value_range

    rows = []
    for seed, value in enumerate((0.0, 0.1)):
        run = tmp_path / f"s{seed}"
        run.mkdir()
        (run / "config.yaml").write_text(
            "env:\n  verifier:\n    terms:\n      - {name: t_iou, weight: 1.0}\n"
            "      - {name: v_iou, weight: 1.0}\n",
            encoding="utf-8",
        )
        lines = [
            {"iteration": 1, "rewards/sampled/total": value, "charts/SPS": value},
            {"iteration": 2, "rewards/sampled/total": 2 * value, "charts/SPS": value},
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        rows.append({"rl_metrics": str(run / "metrics.jsonl")})
    assert curve_value_range("rewards/sampled/total", rows) == (0.0, 2.0)
    assert curve_value_range("charts/SPS", rows) is None
    _, cis = curve_bands({"a": rows}, "rewards/sampled/total").bands["a"]
    # t(0.975, 1) * s / sqrt(2) = 12.7062 * 0.0707107 / 1.41421 = 0.63531
    assert cis[0].mean == pytest.approx(0.05)
    assert cis[0].lo == 0.0 and cis[0].clipped
    assert cis[0].hi == pytest.approx(0.05 + 0.63531, abs=1e-4)
    _, uncut = curve_bands({"a": rows}, "charts/SPS").bands["a"]
    assert uncut[0].lo == pytest.approx(0.05 - 0.63531, abs=1e-4) and not uncut[0].clipped
    _, changes = curve_bands({"a": rows}, "rewards/sampled/total", change=True).bands["a"]
    assert changes[1].mean == pytest.approx(0.05) and changes[1].lo == pytest.approx(
        -0.58531, abs=1e-4
    )
