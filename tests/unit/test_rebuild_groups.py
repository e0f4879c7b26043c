"""How a rebuild's projections are split among its processes (rebuild_groups.split)."""

from __future__ import annotations

from billing_ledger.projections.rebuild_groups import GROUPS, split

NAMES = ["billing_tables", "mrr", "journal", "payment_facts"]


def test_one_process_projects_everything_in_one_group() -> None:
    assert split(NAMES, 1) == [tuple(NAMES)]


def test_two_processes_keep_the_tables_with_mrr() -> None:
    # The trial summaries' triggers read `subscriptions` and `mrr_points`: one transaction
    # must write both.
    assert split(NAMES, 2) == [("billing_tables", "mrr", "payment_facts"), ("journal",)]
    assert split(NAMES, 8) == list(GROUPS)


def test_every_projection_is_in_exactly_one_group() -> None:
    for processes in range(1, 4):
        grouped = [name for group in split([*NAMES, "later"], processes) for name in group]
        assert sorted(grouped) == sorted([*NAMES, "later"])
    assert split([*NAMES, "later"], 2)[0] == ("billing_tables", "mrr", "payment_facts", "later")


def test_only_the_projections_asked_for_are_grouped() -> None:
    assert split(["journal", "mrr"], 2) == [("mrr",), ("journal",)]
