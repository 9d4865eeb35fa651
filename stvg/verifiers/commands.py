"""The ``stvg evaluate`` command.

Mode "predictions file" (this module)::

    stvg evaluate --annotations A --format hcstvg|hcstvg2|vidstg|synthetic [--vidor-root R] \\
                  --predictions P [--protocol official|span|tubedetr|tubedetr-grid|cgstvg|all] \\
                  [--fill none|linear|hold|track] [--video-dir V] [--out M.json]

loads the dataset's annotations (no videos needed, except for ``--fill track``, which
tracks between the given boxes on the videos), scores the predictions file, prints a
table and optionally writes the metrics as JSON. The options are grouped by mode so that a
second mode (running a policy on a dataset split) can add its own group to the same
command; the handler dispatches on which mode's options were given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from stvg.cli_errors import CommandError

DATASET_FORMATS: tuple[str, ...] = ("hcstvg", "hcstvg2", "vidstg", "synthetic")
# --protocol values: stvg.verifiers.metrics.PROTOCOLS, the old alias, and "all"
PROTOCOL_CHOICES: tuple[str, ...] = (
    "official",
    "span",
    "tubedetr",
    "tubedetr-grid",
    "cgstvg",
    "native",
    "all",
)


def add_predictions_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the predictions-file mode's options and the common options to ``parser``
    (shared with ``stvg.experiments.commands``, which adds the policy mode)."""
    offline = parser.add_argument_group(
        "predictions-file mode", "score a predictions file against a dataset's annotations"
    )
    offline.add_argument(
        "--predictions",
        metavar="P",
        help="predictions JSON: {sample_id: {st_frame, ed_frame, bbox: {frame: [x1, y1, x2, y2]}}}, "
        "0-based inclusive native frames, xyxy pixels (docs/design.md)",
    )
    offline.add_argument("--annotations", metavar="A", help="annotation file of the dataset")
    offline.add_argument(
        "--format", dest="dataset_format", choices=DATASET_FORMATS, help="annotation format of A"
    )
    offline.add_argument(
        "--vidor-root",
        metavar="R",
        help="VidSTG only: the VidOR annotation folder with the per-video box files",
    )
    add_predictions_file_checks(offline)
    common = parser.add_argument_group("common options")
    common.add_argument(
        "--protocol",
        choices=PROTOCOL_CHOICES,
        default="official",
        help="official: the official HC-STVG evaluator eval_hcvg.py, boxes matched by frame "
        "(default; 'native', its old name, is deprecated); span: the span formula of the RL reward (equal to "
        "official with a box on every frame of the predicted span and of the GT span); "
        "tubedetr: TubeDETR's evaluator, its 5 fps grid and its HC-STVG GT one frame late; "
        "tubedetr-grid: TubeDETR's grid on correct frames; cgstvg: CG-STVG's evaluators "
        "(HC-STVG: last GT frame dropped; VidSTG: its loader's reading; missing predictions "
        "skipped); all: one row per protocol",
    )
    common.add_argument(
        "--out",
        metavar="OUT",
        help="predictions-file mode: write the metrics (and per-sample scores) to this JSON "
        "file; policy mode: write predictions, metrics and per-sample scores to this folder",
    )


def add_predictions_file_checks(group: argparse._ArgumentGroup) -> None:
    """The predictions-file options of issue 12: dump format, gap filling, invalid entries."""
    from stvg.verifiers.prediction_checks import FILL_METHODS
    from stvg.verifiers.predictions import ON_INVALID, PRED_FORMATS

    group.add_argument(
        "--pred-format",
        choices=PRED_FORMATS,
        default="stvg",
        help="stvg: stvg predictions file (default); tubedetr: TubeDETR's log_stats.json; "
        "cgstvg: CG-STVG's test_results.json (see stvg.verifiers.prediction_dumps)",
    )
    group.add_argument(
        "--fill",
        choices=FILL_METHODS,
        default="none",
        help="frames of a predicted span without a box: none (score 0 IoU, counted; "
        "default), linear or hold (densify on the fly, counted), or track (a tracker between "
        "the given boxes on the videos, which must be on disk, see --video-dir; linear where "
        "it loses the target, counted)",
    )
    group.add_argument(
        "--video-dir",
        metavar="V",
        help="folder of the videos, for --fill track (default: videos/ beside the annotations)",
    )
    group.add_argument(
        "--on-invalid",
        choices=ON_INVALID,
        default="error",
        help="a malformed prediction: error (default) or zero (score it 0 and list it)",
    )


def run_predictions_mode(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Handle ``stvg evaluate --predictions P --annotations A --format F``: check the
    mode's options (a missing one is a usage error) and score the file."""
    missing = [
        flag
        for flag, value in (("--annotations", args.annotations), ("--format", args.dataset_format))
        if value is None
    ]
    if missing:
        parser.error(f"--predictions needs {' and '.join(missing)}")
    return _evaluate_predictions_file(args)


def _evaluate_predictions_file(args: argparse.Namespace) -> int:
    from stvg.cli_errors import check_not_an_input

    _check_out(args.out)
    inputs = {"--predictions": args.predictions, "--annotations": args.annotations}
    check_not_an_input({"--out": args.out}, inputs)
    return _score_file(args)


def _check_out(out: str | None) -> None:
    """Fail early, in one line, when the metrics file ``out`` cannot be written."""
    if not out:
        return
    path = Path(out)
    if path.is_dir():
        raise CommandError(
            f"--out {out} is a folder; give a JSON file path, e.g. {out}/metrics.json"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(
            f"--out {out}: cannot create its folder ({exc.strerror}); choose a writable path"
        ) from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError(f"--out {out}: not writable (permission denied); choose a writable path")


def _score_file(args: argparse.Namespace) -> int:
    from stvg.data import load_dataset
    from stvg.verifiers.evaluation import evaluate, evaluate_protocols, format_table
    from stvg.verifiers.prediction_checks import check_predictions
    from stvg.verifiers.predictions import load_predictions

    samples = load_dataset(
        args.dataset_format,
        annotations=args.annotations,
        vidor_root=args.vidor_root,
        video_dir=args.video_dir,
    )
    loaded = load_predictions(
        args.predictions,
        pred_format=args.pred_format,
        on_invalid=args.on_invalid,
        samples=samples,
    )
    predictions, checks = check_predictions(
        samples, loaded.predictions, fill=args.fill, invalid=loaded.invalid
    )
    if args.protocol == "all":
        report = evaluate_protocols(samples, predictions)
    else:
        report = evaluate(samples, predictions, protocol=args.protocol)
    no_boxes = sum(1 for s in samples if s.meta.get("boxes_available") is False)
    if no_boxes:
        print(
            f"warning: {no_boxes} samples have no ground-truth boxes, so their vIoU is 0 (and "
            "their tIoU under the official protocol, which counts GT frames with a box); for "
            "VidSTG pass --vidor-root with the VidOR annotation folder",
            file=sys.stderr,
        )
    print(format_table(report))
    print(checks.summary_line())
    for line in checks.warnings():
        print(line, file=sys.stderr)
    if report.unknown:
        shown = ", ".join(report.unknown[:5])
        more = f" and {len(report.unknown) - 5} more" if len(report.unknown) > 5 else ""
        print(
            f"warning: {len(report.unknown)} predictions for unknown sample ids: {shown}{more}",
            file=sys.stderr,
        )
    if args.out:
        out = Path(args.out)
        result = {**report.to_dict(), "prediction_checks": checks.to_dict()}
        try:
            out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--out {out}: cannot write ({exc.strerror})") from None
        print(f"metrics written to {out}")
    return 0


__all__ = ["DATASET_FORMATS", "add_predictions_arguments", "run_predictions_mode"]
