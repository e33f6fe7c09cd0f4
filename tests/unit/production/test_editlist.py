from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeworks.errors import ValidationFailed
from tapeworks.production.editlist import Cut, EditList


def _el() -> EditList:
    return EditList.build(
        10.0,
        [Cut(2.0, 3.0, "pause"), Cut(5.0, 5.5, "filler", "um", (4,)), Cut(5.4, 6.0, "pause")],
    )


def test_merge_and_kept_ranges() -> None:
    el = _el()
    assert [(c.start, c.end, c.kind) for c in el.cuts] == [(2.0, 3.0, "pause"), (5.0, 6.0, "filler")]
    assert el.cuts[1].word_indices == (4,)
    assert el.kept_ranges() == [(0.0, 2.0), (3.0, 5.0), (6.0, 10.0)]
    assert el.episode_duration == pytest.approx(8.0)
    assert el.summary()["filler"] == {"count": 1, "seconds": 1.0}


def test_source_to_episode() -> None:
    el = _el()
    assert el.source_to_episode(1.0) == 1.0
    assert el.source_to_episode(2.5) == 2.0  # inside a cut -> join point
    assert el.source_to_episode(3.0) == 2.0
    assert el.source_to_episode(4.0) == 3.0
    assert el.source_to_episode(7.0) == pytest.approx(5.0)


def test_map_word() -> None:
    el = _el()
    assert el.map_word(2.2, 2.8) is None
    assert el.map_word(3.5, 4.5) == (2.5, 3.5)
    assert el.map_word(1.5, 2.2) == (1.5, 2.0)  # mostly kept, end snapped to the join
    assert el.map_word(1.9, 2.5) is None  # mostly cut
    assert el.map_word(2.5, 2.5) is None


def test_invalid_cuts_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        EditList(5.0, (Cut(1.0, 2.0, "pause"), Cut(1.5, 3.0, "pause")))
    with pytest.raises(ValidationFailed):
        EditList(5.0, (Cut(2.0, 2.0, "pause"),))


def test_round_trip_dict() -> None:
    el = _el()
    assert EditList.from_dict(el.to_dict()) == el


cut_lists = st.lists(
    st.tuples(st.floats(0, 100), st.floats(0.001, 5)), max_size=20
)


@given(cut_lists, st.lists(st.floats(0, 100), min_size=2, max_size=20))
def test_mapping_is_monotonic_and_consistent(raw: list[tuple[float, float]], ts: list[float]) -> None:
    el = EditList.build(100.0, [Cut(s, s + d, "user") for s, d in raw])
    kept = sum(e - s for s, e in el.kept_ranges())
    assert kept == pytest.approx(el.episode_duration, abs=1e-6)
    assert el.source_to_episode(100.0) == pytest.approx(el.episode_duration, abs=1e-6)
    ts = sorted(ts)
    mapped = [el.source_to_episode(t) for t in ts]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(mapped))
    for t, m in zip(ts, mapped, strict=True):
        assert 0.0 <= m <= t + 1e-9
