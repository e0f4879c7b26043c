"""Stripe's request bodies: `application/x-www-form-urlencoded` with bracketed keys
(`metadata[user_id]=…`, `tax_id_data[0][type]=…`), decoded into nested dicts and lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

KEY_PART = re.compile(r"\[([^\]]*)\]")


def decode(body: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head, *KEY_PART.findall("[" + rest)] if rest else [head]
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"conflicting parameter {key}")
        node[parts[-1]] = value
    listed = _lists(tree)
    assert isinstance(listed, dict)
    return listed


def _lists(node: Any) -> Any:
    """Dicts keyed 0, 1, … (and `[]`) become lists, as Stripe reads them."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() or k == "" for k in converted):
        return [converted[k] for k in sorted(converted, key=lambda k: int(k or 0))]
    return converted


def boolean(value: Any) -> bool:
    return value in (True, "true", "True", "1")


def integer(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid integer: {name}") from None
