"""``stvg data ...`` subcommands: ``synth`` (generate the synthetic benchmark), ``inspect``
and ``tracks-from-mot`` (MOT text files -> a tracks file, ``docs/tracks.md``).

Handlers import their modules lazily so that ``stvg --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json

from stvg.cli_args import int_up_to, non_negative_int
from stvg.cli_errors import check_writable_dir, name_argument
from stvg.limits import MAX_SAMPLES

DIFFICULTY_CHOICES: tuple[str, ...] = ("easy", "medium", "hard")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``stvg data synth`` and ``stvg data inspect`` to the top-level parser."""
    data = subparsers.add_parser("data", help="datasets: generate the synthetic benchmark, inspect")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data.set_defaults(handler=lambda args: _print_help(data))

    synth = data_sub.add_parser(
        "synth",
        help="generate a synthetic split (videos + HC-STVG v2 style annotations)",
        description="Write OUT/videos/*.mp4, OUT/<split>.json and OUT/<split>_scenes.json.",
    )
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument(
        "--split",
        type=name_argument,
        required=True,
        help="split name, e.g. train, val, test (letters, digits, '-', '_')",
    )
    synth.add_argument(
        "--n", type=int_up_to(MAX_SAMPLES, "videos"), required=True, help="number of videos (>= 1)"
    )
    synth.add_argument("--seed", type=non_negative_int, required=True, help="random seed (>= 0)")
    synth.add_argument(
        "--difficulty", choices=DIFFICULTY_CHOICES, default="easy", help="scene difficulty"
    )
    synth.set_defaults(handler=_synth)

    inspect = data_sub.add_parser(
        "inspect",
        help="print dataset statistics: counts, durations, spans, boxes, repairs",
    )
    inspect.add_argument("path", help="annotation file, or dataset folder (with --split)")
    inspect.add_argument(
        "--format",
        dest="dataset_format",
        required=True,
        help="dataset format: hcstvg, hcstvg2, vidstg, synthetic (or another registered name)",
    )
    inspect.add_argument("--split", default=None, help="split to read under a dataset folder")
    inspect.add_argument(
        "--vidor-root", default=None, help="VidSTG: VidOR annotation folder with the boxes"
    )
    inspect.add_argument("--json", action="store_true", help="print the statistics as JSON")
    inspect.set_defaults(handler=_inspect)

    mot = data_sub.add_parser(
        "tracks-from-mot",
        help="convert MOT text files (frame,id,x,y,w,h,...) into a tracks file",
        description="Write OUT, a tracks file (JSON Lines, docs/tracks.md) with one line per "
        "MOT file; a file's video key is its name without .txt (<video>/gt/gt.txt: <video>).",
    )
    mot.add_argument("mot_files", nargs="+", help="MOT text files, one per video")
    mot.add_argument("--out", required=True, help="the tracks file to write (.jsonl)")
    mot.set_defaults(handler=_tracks_from_mot)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _synth(args: argparse.Namespace) -> int:
    check_writable_dir(args.out)  # before any video is drawn
    from stvg.data.synthetic import generate_split

    # the generator's config checks are ConfigErrors (what, and how to fix): one line
    summary = generate_split(
        args.out, args.split, args.n, args.seed, args.difficulty, progress=True
    )
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _tracks_from_mot(args: argparse.Namespace) -> int:
    from stvg.data.tracks import load_tracks, mot_to_tracks_file

    path = mot_to_tracks_file(args.mot_files, args.out)
    index = load_tracks(path)  # what the env will read, validated
    tracks = sum(len(v.tracks) for v in index.videos.values())
    print(json.dumps({"out": str(path), "videos": len(index.videos), "tracks": tracks}))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from stvg.data.inspect import format_report, inspect_path

    stats = inspect_path(
        args.path, args.dataset_format, split=args.split, vidor_root=args.vidor_root
    )
    print(json.dumps(stats, indent=2) if args.json else format_report(stats))
    return 0
