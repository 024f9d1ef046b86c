"""The results page's charts: one row per option or bin, one series per compared group."""

from __future__ import annotations

from bot.surveys.results import counted, histogram
from webhook.admin.survey_results import chart


def test_choices_and_yes_no_compare_with_one_series_per_group():
    def yes_no(yes: int, no: int) -> dict:
        return {"type": "yes_no", "answered": yes + no, "counts": [
            {"option": "yes", "label": "yes", "count": yes},
            {"option": "no", "label": "no", "count": no}]}  # fmt: skip

    c = chart(yes_no(3, 1), [yes_no(2, 0), yes_no(1, 1)])
    assert c.kind == "bars" and c.rows == [("Yes", [2, 1]), ("No", [0, 1])]
    assert c.totals == [2, 2] and c.top == 2
    alone = chart(yes_no(3, 1), [])
    assert alone.rows == [("Yes", [3]), ("No", [1])] and alone.totals == [4]


def test_numbers_compare_over_the_same_bins_and_texts_are_a_list():
    numbers = [1.0, 2.0, 8.0, 40.0]
    whole = {"type": "number", "answered": 4, "histogram": histogram(numbers)}
    groups = [{"type": "number", "answered": n, "histogram": counted(part, whole["histogram"])}
              for n, part in ((2, numbers[:2]), (2, numbers[2:]))]  # fmt: skip
    c = chart(whole, groups)
    assert len(c.rows) == len(whole["histogram"])
    assert [sum(counts[i] for _, counts in c.rows) for i in (0, 1)] == [2, 2]
    assert chart({"type": "short_text", "answered": 1, "texts": ["ok"]}, []).kind == "texts"
