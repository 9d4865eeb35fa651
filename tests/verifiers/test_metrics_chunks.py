"""The chunked IoU kernel: chunk boundaries, empty tubes and out-of-span boxes change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.data.types import Sample, Tube
from stvg.verifiers import metrics
from stvg.verifiers.metrics import GroundTruthTable


def _sample(i: int, gt_span: tuple[int, int]) -> Sample:
    gs, ge = gt_span
    return Sample(
        sample_id=f"v{i}",
        video_path=f"v{i}.mp4",
        query="q",
        native_fps=30.0,
        num_frames=20,
        width=100,
        height=100,
        gt_span=gt_span,
        gt_boxes={f: [0.0, 0.0, 10.0, 10.0] for f in range(gs, ge + 1)},
    )


def _tube(frames: list[int], box: list[float]) -> Tube:
    return Tube(np.array(frames), np.array([box] * len(frames), dtype=np.float64))


@pytest.mark.parametrize("chunk_frames", [1, 2, 3, 32768])
def test_chunk_size_and_empty_tubes_do_not_change_scores(monkeypatch, chunk_frames):
    monkeypatch.setattr(metrics, "CHUNK_FRAMES", chunk_frames)
    samples = [_sample(0, (2, 5)), _sample(1, (0, 3)), _sample(2, (4, 9)), _sample(3, (0, 1))]
    spans = [(2, 5), (1, 3), (3, 6), (0, 1)]
    tubes = [
        # IoU 1 on frames 2..5; frame 9 is outside the predicted span and ignored
        _tube([2, 3, 4, 5, 9], [0.0, 0.0, 10.0, 10.0]),
        Tube.empty(),  # spans overlap but no boxes: vIoU 0
        # half-width box (IoU 0.5) on frames 4, 6; frame 3 is outside the GT span
        _tube([3, 4, 6], [0.0, 0.0, 5.0, 10.0]),
        None,
    ]
    span = GroundTruthTable(samples, "span").score(spans, tubes)
    # sample 0: U = 4, sum 4; sample 2: U = [3, 9] = 7 frames, sum 0.5 + 0.5
    np.testing.assert_allclose(span.v_iou, [1.0, 0.0, 1.0 / 7.0, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(span.t_iou, [1.0, 0.75, 3.0 / 7.0, 1.0], rtol=0, atol=1e-15)
    # official counts GT frames with a predicted box: 4 of U = 4; none; 4 and 6 of U = 7;
    # none (frame 9 lies outside the GT span, so it is no GT frame either)
    official = GroundTruthTable(samples, "official").score(spans, tubes)
    np.testing.assert_allclose(official.v_iou, [1.0, 0.0, 1.0 / 7.0, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(official.t_iou, [1.0, 0.0, 2.0 / 7.0, 0.0], rtol=0, atol=1e-15)
    # gt_v_iou: over the GT frames 2..5 (4), 0..3, 4..9 (6: 0.5 + 0.5), 0..1
    np.testing.assert_allclose(official.gt_v_iou, [1.0, 0.0, 1 / 6, 0.0], rtol=0, atol=1e-15)
