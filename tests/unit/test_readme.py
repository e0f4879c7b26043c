"""What the README states about the code is what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from billing_ledger.domain.handling import ROUTES
from billing_ledger.schemas.personal import ID_METADATA, PERSONAL_ANYWHERE, PERSONAL_BY_KIND
from billing_ledger.web.finance_listings import LISTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_handled_event_types_listed_are_exactly_the_handled_ones() -> None:
    block = README.split("<!-- handled-event-types")[1].split("<!-- /handled-event-types -->")[0]
    listed = set()
    for family, names in re.findall(r"^- `([\w.]+)`: (.+)$", block, re.MULTILINE):
        listed |= {f"{family}.{name}" for name in re.findall(r"`(\w+)`", names)}
    assert listed == set(ROUTES)


def test_the_personal_fields_listed_are_exactly_the_sealed_ones() -> None:
    block = README.split("<!-- personal-fields")[1].split("<!-- /personal-fields -->")[0]
    lines = block.splitlines()
    anywhere = next(line for line in lines if line.startswith("- anywhere"))
    assert set(re.findall(r"`(\w+)`", anywhere)) == PERSONAL_ANYWHERE
    by_kind = {
        kind: set(re.findall(r"`(\w+)`", names))
        for kind, names in re.findall(r"^  - `(\w+)`: (.+)$", block, re.MULTILINE)
    }
    assert by_kind == PERSONAL_BY_KIND
    metadata = next(line for line in lines if line.startswith("- in every `metadata`"))
    assert set(re.findall(r"`(\w+)`", metadata)) - {"metadata"} == ID_METADATA


def test_the_readme_lists_every_finance_list_of_the_api() -> None:
    table = README.split("### Reading the books over HTTP")[1].split("- **Pages**")[0]
    for listing in LISTINGS:
        assert f"`{listing.path.lstrip('/').replace('{customer}', '{cus}')}" in table, listing.path
