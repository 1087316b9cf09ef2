"""The algorithms behind consensus and agreement for every question type (#22)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from assay.quality import (
    aggregate_segments,
    aggregate_spans,
    distance_alpha,
    fuse_boxes,
    fuse_boxes_with_skills,
    krippendorff_alpha,
)


def test_distance_alpha_is_krippendorffs_alpha_with_the_nominal_and_interval_distances() -> None:
    rng = np.random.default_rng(1)
    unit = rng.integers(0, 30, 200)
    value = rng.integers(0, 4, 200).astype(float)
    value[unit % 3 == 0] = unit[unit % 3 == 0] % 4
    nominal = distance_alpha(unit, lambda i, j: float(value[i] != value[j]))
    interval = distance_alpha(unit, lambda i, j: float((value[i] - value[j]) ** 2))
    assert abs(nominal - krippendorff_alpha(unit, value, level="nominal")) < 1e-12
    assert abs(interval - krippendorff_alpha(unit, value, level="interval")) < 1e-12
    # sampled expected disagreement stays close
    sampled = distance_alpha(unit, lambda i, j: float(value[i] != value[j]), max_pairs=5000)
    assert abs(sampled - nominal) < 0.05


def test_segments_vote_over_time_and_weights_move_it() -> None:
    r = aggregate_segments([0, 0, 0], [0, 1, 2], [0.0, 0.5, 4.0], [2.0, 2.5, 5.0])
    assert r.start.tolist() == [0.5] and r.end.tolist() == [2.0]
    # worker 2 alone is trusted more than the other two together
    w = aggregate_segments([0, 0, 0], [0, 1, 2], [0.0, 0.5, 4.0], [2.0, 2.5, 5.0], weights=[0.1, 0.1, 0.9])
    assert w.start.tolist() == [4.0] and w.end.tolist() == [5.0]


def test_weighted_span_vote() -> None:
    plain = aggregate_spans([0, 0, 0], [0, 1, 2], [0, 0, 5], [4, 4, 9])
    assert (plain.start.tolist(), plain.end.tolist()) == ([0], [4])
    skilled = aggregate_spans([0, 0, 0], [0, 1, 2], [0, 0, 5], [4, 4, 9], weights=[0.2, 0.2, 0.9])
    assert (skilled.start.tolist(), skilled.end.tolist()) == ([5], [9])


def test_box_fusion_weighs_workers_by_skill() -> None:
    rng = np.random.default_rng(0)
    truth = [[10 + 20 * i, 10, 30 + 20 * i, 40] for i in range(3)]
    t, w, b = [], [], []
    for task in range(40):
        for worker in range(5):
            for box in truth:
                if worker < 3 or rng.random() < 0.2:  # workers 3, 4 miss most objects
                    t.append(task)
                    w.append(worker)
                    b.append(np.array(box) + rng.normal(0, 1, 4))
            if worker >= 3:  # and draw a spurious box each
                t.append(task)
                w.append(worker)
                b.append([200, 200, 230, 230])
    answered = (np.repeat(np.arange(40), 5), np.tile(np.arange(5), 40))
    fused, skills = fuse_boxes_with_skills(t, w, b, answered=answered)
    assert skills[:3].min() > skills[3:].max()
    assert fused.task.size == 40 * 3  # the two weak workers' spurious boxes are dropped
    plain = fuse_boxes(t, w, b, annotators=np.full(40, 5))
    assert plain.task.size == 40 * 3
    assert fused.confidence.min() >= 0 and fused.confidence.max() <= 1


def test_one_method_loads_only_its_module() -> None:
    code = (
        "import sys; from assay.quality.aggregation.methods import method_class; method_class('ds');"
        "print('scipy.stats' in sys.modules, 'scipy.optimize' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_span_vote_with_annotators_of_texts_past_the_last_span() -> None:
    # text 1 was annotated by one worker who marked nothing: it must not change text 0's vote
    r = aggregate_spans([0, 0, 0], [0, 1, 2], [0, 0, 10], [5, 4, 12], annotators=[3, 1])
    assert (r.task.tolist(), r.start.tolist(), r.end.tolist()) == ([0], [0], [4])


def test_median_box_is_robust_to_one_sloppy_box() -> None:
    boxes = [[10, 10, 50, 50], [11, 10, 51, 50], [10, 11, 50, 51], [14, 10, 62, 58]]  # the last is sloppy
    mean = fuse_boxes([0] * 4, [0, 1, 2, 3], boxes).geometry[0]
    median = fuse_boxes([0] * 4, [0, 1, 2, 3], boxes, geometry="median").geometry[0]
    assert abs(median[2] - 50.5) <= 0.5 and mean[2] > 53


def test_span_vote_keeps_a_boundary_most_annotators_draw() -> None:
    # three annotators mark "New York" and "City" as two spans that touch: two spans, not one
    two = aggregate_spans([0] * 6, [0, 0, 1, 1, 2, 2], [0, 9, 0, 9, 0, 9], [8, 13, 8, 13, 8, 13])
    assert list(zip(two.start.tolist(), two.end.tolist(), strict=True)) == [(0, 8), (9, 13)]
    touching = aggregate_spans([0] * 6, [0, 0, 1, 1, 2, 2], [0, 8, 0, 8, 0, 8], [8, 13, 8, 13, 8, 13])
    assert list(zip(touching.start.tolist(), touching.end.tolist(), strict=True)) == [(0, 8), (8, 13)]
    # one annotator of three draws the boundary: one span
    one = aggregate_spans([0] * 4, [0, 0, 1, 2], [0, 8, 0, 0], [8, 13, 13, 13])
    assert list(zip(one.start.tolist(), one.end.tolist(), strict=True)) == [(0, 13)]
