"""The bounded memo table: it never holds more than its limit, keeps what it was last given, and empties
itself only when full (so a hit stays a plain dict lookup)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jalapeno.memo import remember


def test_a_full_table_empties_before_storing() -> None:
    table = {0: "a", 1: "b"}
    assert remember(table, 2, "c", limit=3) == "c" and table == {0: "a", 1: "b", 2: "c"}
    assert remember(table, 3, "d", limit=3) == "d" and table == {3: "d"}  # full: emptied, then stored


@given(st.lists(st.integers(0, 50), max_size=300), st.integers(1, 20))
def test_never_over_the_limit_and_the_last_value_stays(keys: list[int], limit: int) -> None:
    table: dict[int, int] = {}
    for i, k in enumerate(keys):
        assert remember(table, k, i, limit=limit) == i
        assert len(table) <= limit and table[k] == i
