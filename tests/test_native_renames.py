"""The misleading "native"s renamed, their old spellings still read with a deprecation
warning: ``--fps all`` (every frame; was ``--fps native``) and the metric protocol
``official`` (was ``native``). ``native`` keeps one meaning: the video's own frames and
frame rate (``native_fps``), besides the name of the small torch policy."""

from __future__ import annotations

import warnings

import pytest

from stvg.cli_args import parse_fps
from stvg.verifiers.metrics import canonical_protocol


def test_fps_all_means_every_frame_and_native_is_its_old_spelling() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_fps("all") is None and parse_fps("none") is None
        assert parse_fps("2.5") == 2.5
    with pytest.warns(FutureWarning, match="--fps native is deprecated: write --fps all"):
        assert parse_fps("native") is None


def test_the_official_protocols_old_name_still_reads_with_a_warning() -> None:
    with pytest.warns(
        FutureWarning, match="metric protocol 'native' is deprecated: write 'official'"
    ):
        assert canonical_protocol("native") == "official"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert canonical_protocol("official") == "official"
