"""The ``stvg render`` command: a picture of one sample's grounding result.

::

    stvg render --annotations A --format hcstvg|hcstvg2|vidstg|synthetic [--vidor-root R]
                [--video-dir V] [--predictions P] --sample ID --out x.png|x.mp4
                [--fps F] [--max-frames N] [--columns C] [--tile-width W] [--max-side S]

loads the dataset's annotations (as ``stvg evaluate`` does; ``--root R [--split S]`` may
name the dataset folder instead of ``--annotations``), the predictions file (optional:
without it only the ground truth is drawn) and the sample's video, and writes ``.png``: a
contact sheet of frames sampled at ``--fps`` (default one per second) with the sample's
tIoU, vIoU and the per-frame IoU, or ``.mp4``: every frame with both tubes drawn. A bad
``--out`` suffix, an unknown sample id (the message lists some valid ids) or a missing
video is reported in one line with exit status 2.
"""

from __future__ import annotations

import argparse
import difflib
import sys

from stvg.cli_args import int_up_to, parse_fps
from stvg.limits import MAX_VIDEO_FRAMES, MAX_VIDEO_SIDE, short_repr
from stvg.verifiers.commands import DATASET_FORMATS

_SHOWN_IDS = 5  # valid sample ids listed when the asked one is unknown


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``render`` subcommand to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "render",
        help="draw one sample's ground truth and prediction: a contact sheet (.png) or video (.mp4)",
        description=(
            "Draw the ground-truth tube (green) and the predicted tube (magenta) of one "
            "sample: a contact sheet of sampled frames with tIoU, vIoU and per-frame IoU "
            "(--out x.png), or every frame as an mp4 video (--out x.mp4)."
        ),
    )
    data = parser.add_argument_group("data", "the dataset and the predictions (as stvg evaluate)")
    data.add_argument("--annotations", metavar="A", help="annotation file of the dataset")
    data.add_argument(
        "--format",
        dest="dataset_format",
        choices=DATASET_FORMATS,
        required=True,
        help="annotation format of A",
    )
    data.add_argument(
        "--root", metavar="R", help="dataset folder with <split>.json (instead of --annotations)"
    )
    data.add_argument("--split", metavar="S", help="split name under --root (default per format)")
    data.add_argument(
        "--video-dir",
        "--video-root",
        dest="video_dir",
        metavar="V",
        help="folder of the videos (default: R/videos, or videos/ beside A)",
    )
    data.add_argument(
        "--vidor-root",
        metavar="R",
        help="VidSTG only: the VidOR annotation folder with the per-video box files",
    )
    data.add_argument(
        "--predictions",
        metavar="P",
        help="predictions JSON ({sample_id: {st_frame, ed_frame, bbox: {frame: [x1, y1, x2, "
        "y2]}}}, 0-based native frames; docs/design.md); without it only the GT is drawn",
    )
    picture = parser.add_argument_group("picture")
    picture.add_argument("--sample", metavar="ID", required=True, help="the sample id to draw")
    picture.add_argument(
        "--out", metavar="OUT", required=True, help="x.png: contact sheet; x.mp4: video"
    )
    picture.add_argument(
        "--fps",
        type=parse_fps,
        default=1.0,
        metavar="F",
        help="contact sheet: frames per second shown as tiles (default 1; 'all' = every frame)",
    )
    picture.add_argument(
        "--max-frames",
        type=int_up_to(MAX_VIDEO_FRAMES, "tiles"),
        metavar="N",
        help="contact sheet: at most N tiles",
    )
    picture.add_argument(
        "--columns",
        type=int_up_to(1024, "tiles per row"),
        metavar="C",
        help="contact sheet: tiles per row",
    )
    picture.add_argument(
        "--tile-width",
        type=int_up_to(4096, "pixels"),
        default=224,
        metavar="W",
        help="contact sheet: tile width in pixels (default 224)",
    )
    picture.add_argument(
        "--max-side",
        type=int_up_to(MAX_VIDEO_SIDE, "pixels"),
        metavar="S",
        help="video: shrink frames so the longer side is at most S pixels",
    )
    parser.set_defaults(handler=_handler(parser))


def _handler(parser: argparse.ArgumentParser):
    def handle(args: argparse.Namespace) -> int:
        if (args.annotations is None) == (args.root is None):
            parser.error("give the dataset as --annotations A or as --root R (not both)")
        if args.split is not None and args.root is None:
            parser.error("--split selects a split under --root; with --annotations leave it out")
        return _render(args)

    return handle


def unknown_sample_error(sample_id: str, known: list[str], source: str) -> Exception:
    """The error for a sample id that the dataset lacks: it names the id and the file,
    suggests close ids and lists a few valid ones."""
    from stvg.data import DataError

    close = difflib.get_close_matches(sample_id, known, n=3)
    shown = ", ".join(repr(i) for i in (close or known[:_SHOWN_IDS]))
    more = f" (of {len(known)})" if len(known) > _SHOWN_IDS and not close else ""
    lead = "did you mean" if close else "valid ids include"
    return DataError(
        f"sample id {short_repr(sample_id)} is not in the annotations",
        path=source,
        hint=f"pass one of the dataset's {len(known)} sample ids with --sample; {lead} "
        f"{shown}{more}",
    )


def _render(args: argparse.Namespace) -> int:
    from stvg.cli_errors import check_not_an_input, check_writable_file
    from stvg.data import load_dataset
    from stvg.render.sample import check_out_suffix, render_sample
    from stvg.render.sheet import SheetLayout
    from stvg.verifiers.predictions import read_predictions

    check_out_suffix(args.out)
    check_writable_file(args.out)  # before the dataset is read or a frame decoded
    dataset = load_dataset(
        args.dataset_format,
        split=args.split,
        root=args.root,
        annotations=args.annotations,
        video_dir=args.video_dir,
        vidor_root=args.vidor_root,
    )
    if args.sample not in dataset.ids:
        raise unknown_sample_error(args.sample, dataset.ids, dataset.source)
    sample = dataset.get(args.sample)
    inputs = {
        f"the video of sample {args.sample!r}": sample.video_path,
        "the annotation file": dataset.source,
        "--predictions": args.predictions,
    }
    check_not_an_input({"--out": args.out}, inputs)  # x.mp4 could be the video drawn
    prediction = None
    if args.predictions is not None:
        prediction = read_predictions(args.predictions).get(args.sample)
        if prediction is None:
            print(
                f"warning: {args.predictions} has no prediction for sample {args.sample!r}; "
                "drawing the ground truth only (the sample scores 0)",
                file=sys.stderr,
            )
    layout = SheetLayout(tile_width=args.tile_width, columns=args.columns)
    out = render_sample(
        sample,
        prediction,
        args.out,
        fps=args.fps,
        max_frames=args.max_frames,
        layout=layout,
        max_side=args.max_side,
    )
    print(f"wrote {out}")
    return 0


__all__ = ["register", "unknown_sample_error"]
