"""Box overlap maths: IoU and generalized IoU of ``[x1, y1, x2, y2]`` boxes.

Conventions (the official HC-STVG evaluator's, see ``docs/design.md``):

* boxes are ``[x1, y1, x2, y2]`` float pixels; the area is ``(x2 - x1) * (y2 - y1)`` with
  **no** ``+1`` pixel;
* a degenerate box (``x2 <= x1`` or ``y2 <= y1``, including inverted ones) has area 0, so
  its IoU with anything is 0;
* the result is never NaN for finite input: a union of 0 gives IoU 0.

All functions are element-wise over **aligned** arrays (box ``i`` of ``a`` against box
``i`` of ``b``), not pairwise matrices, because every metric here compares the predicted
and ground-truth box of the same frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

_TINY = np.finfo(np.float64).tiny  # smallest positive normal float64


def _as_boxes(boxes: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr.reshape(1, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4] (x1, y1, x2, y2), got shape {arr.shape}")
    return arr


def _aligned(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a_arr, b_arr = _as_boxes(a, "a"), _as_boxes(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(
            f"box arrays must be aligned (same number of boxes), got a.shape={a_arr.shape} "
            f"and b.shape={b_arr.shape}"
        )
    return a_arr, b_arr


def _area(boxes: np.ndarray) -> np.ndarray:
    width = np.maximum(boxes[:, 2] - boxes[:, 0], 0.0)
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 0.0)
    return width * height


def _inter_union(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inter = _intersection(a.T, b.T)
    union = _area(a) + _area(b) - inter
    return inter, union


def _intersection(a_cols: Sequence[np.ndarray], b_cols: Sequence[np.ndarray]) -> np.ndarray:
    ax1, ay1, ax2, ay2 = a_cols
    bx1, by1, bx2, by2 = b_cols
    inter = np.minimum(ax2, bx2)
    inter -= np.maximum(ax1, bx1)
    np.maximum(inter, 0.0, out=inter)
    height = np.minimum(ay2, by2)
    height -= np.maximum(ay1, by1)
    np.maximum(height, 0.0, out=height)
    inter *= height
    return inter


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0.0)
    return out


def box_iou_columns(
    a_cols: Sequence[np.ndarray],
    b_cols: Sequence[np.ndarray],
    *,
    b_area: np.ndarray | None = None,
) -> np.ndarray:
    """Element-wise IoU of boxes given as coordinate columns (the fast path of :func:`box_iou`).

    Args:
        a_cols: ``(x1, y1, x2, y2)``, four float64 arrays ``[N]`` (e.g. the rows of a
            contiguous ``[4, N]`` array), pixels.
        b_cols: the same for the boxes compared with ``a``, aligned.
        b_area: optional precomputed ``max(x2 - x1, 0) * max(y2 - y1, 0)`` of ``b``.

    Returns:
        float64 ``[N]`` IoU in ``[0, 1]``, 0 where the union is empty.
    """
    ax1, ay1, ax2, ay2 = a_cols
    inter = _intersection(a_cols, b_cols)
    union = np.maximum(ax2 - ax1, 0.0)
    union *= np.maximum(ay2 - ay1, 0.0)
    if b_area is None:
        bx1, by1, bx2, by2 = b_cols
        b_area = np.maximum(bx2 - bx1, 0.0) * np.maximum(by2 - by1, 0.0)
    union += b_area
    union -= inter
    # union == 0 implies inter == 0 (inter <= both areas), so 0 / tiny gives the IoU 0
    np.maximum(union, _TINY, out=union)
    return np.divide(inter, union, out=inter)


def box_iou(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Element-wise IoU of two aligned box arrays.

    Args:
        a: ``[N, 4]`` boxes ``[x1, y1, x2, y2]`` (pixels); a single ``[4]`` box is allowed.
        b: ``[N, 4]`` boxes, aligned with ``a``.

    Returns:
        float64 ``[N]``: ``IoU(a[i], b[i])`` in ``[0, 1]``; 0 where the union is empty.

    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]]).tolist()
    [0.3333333333333333]
    """
    a_arr, b_arr = _aligned(a, b)
    return box_iou_columns(a_arr.T, b_arr.T)


def box_iou_single(a: ArrayLike, b: ArrayLike) -> float:
    """IoU of two single boxes ``[x1, y1, x2, y2]`` (pixels), as a Python float in ``[0, 1]``.

    >>> box_iou_single([0, 0, 10, 10], [0, 0, 10, 5])
    0.5
    """
    a_arr, b_arr = _as_boxes(a, "a"), _as_boxes(b, "b")
    if a_arr.shape[0] != 1 or b_arr.shape[0] != 1:
        raise ValueError(
            f"box_iou_single compares one box with one box, got a.shape={a_arr.shape} "
            f"and b.shape={b_arr.shape}; use box_iou for arrays"
        )
    return float(box_iou(a_arr, b_arr)[0])


def generalized_box_iou(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Element-wise generalized IoU (Rezatofighi et al., CVPR 2019) of aligned boxes.

    ``GIoU = IoU - (C - U) / C`` where ``U`` is the union area and ``C`` the area of the
    smallest box enclosing both. It lies in ``[-1, 1]`` and, unlike IoU, still ranks
    disjoint boxes by how far apart they are, which makes it a useful shaping reward.
    When ``C`` is 0 (both boxes degenerate) the penalty term is 0, so GIoU equals IoU (0).

    Args:
        a: ``[N, 4]`` boxes ``[x1, y1, x2, y2]`` (pixels); a single ``[4]`` box is allowed.
        b: ``[N, 4]`` boxes, aligned with ``a``.

    Returns:
        float64 ``[N]`` in ``[-1, 1]``.

    >>> generalized_box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]]).tolist()
    [-0.3333333333333333]
    """
    a_arr, b_arr = _aligned(a, b)
    inter, union = _inter_union(a_arr, b_arr)
    iou = _safe_ratio(inter, union)
    hull_w = np.maximum(
        np.maximum(a_arr[:, 2], b_arr[:, 2]) - np.minimum(a_arr[:, 0], b_arr[:, 0]), 0.0
    )
    hull_h = np.maximum(
        np.maximum(a_arr[:, 3], b_arr[:, 3]) - np.minimum(a_arr[:, 1], b_arr[:, 1]), 0.0
    )
    hull = hull_w * hull_h
    return iou - _safe_ratio(hull - union, hull)


__all__ = ["box_iou", "box_iou_columns", "box_iou_single", "generalized_box_iou"]
