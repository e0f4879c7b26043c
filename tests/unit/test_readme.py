"""What the README states about the code is what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from billing_ledger.domain.handling import ROUTES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_handled_event_types_listed_are_exactly_the_handled_ones() -> None:
    block = README.split("<!-- handled-event-types")[1].split("<!-- /handled-event-types -->")[0]
    listed = set()
    for family, names in re.findall(r"^- `([\w.]+)`: (.+)$", block, re.MULTILINE):
        listed |= {f"{family}.{name}" for name in re.findall(r"`(\w+)`", names)}
    assert listed == set(ROUTES)
