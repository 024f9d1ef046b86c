"""The results' arithmetic: histograms, rates, and cells that stay text in a spreadsheet."""

from __future__ import annotations

from bot.surveys.results import _safe, counted, histogram, to_csv


def test_histogram_of_whole_numbers_has_whole_bins_that_add_up():
    numbers = [0, 1, 5, 12, 12, 30, 99]
    bins = histogram([float(n) for n in numbers])
    assert sum(b["count"] for b in bins) == len(numbers)
    assert bins[0]["from"] == 0 and bins[-1]["to"] >= 99
    assert all(float(b["from"]).is_integer() for b in bins)


def test_histogram_edges():
    assert histogram([]) == []
    assert histogram([4.0, 4.0]) == [{"from": 4.0, "to": 4.0, "count": 2}]
    bins = histogram([0.5, 0.7, 1.9])
    assert sum(b["count"] for b in bins) == 3 and len(bins) <= 11


def test_formulas_stay_text_and_csv_opens_in_excel():
    assert _safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _safe("-5 kids") == "'-5 kids"
    assert _safe(-5) == -5 and _safe("fine") == "fine"
    assert to_csv(["a"], [["ș"]]).startswith("\ufeff".encode())


def test_a_groups_numbers_are_counted_in_the_wholes_bins():
    whole = histogram([float(n) for n in (0, 3, 9, 10, 25, 40)])
    group = counted([3.0, 40.0, 25.0], whole)
    assert [(b["from"], b["to"]) for b in group] == [(b["from"], b["to"]) for b in whole]
    assert sum(b["count"] for b in group) == 3
    assert group[0]["count"] == 1 and group[-1]["count"] == 1  # the largest: the last bin
    assert counted([4.0], [{"from": 4.0, "to": 4.0, "count": 2}]) == [
        {"from": 4.0, "to": 4.0, "count": 1}
    ]
