"""`json.loads`, faster: pydantic-core's parser (jiter, in Rust) wherever it gives the standard
library's result, the standard library itself wherever it might not.

What a webhook body or a stored domain event decodes to must not depend on which parser read
it (a replay would diverge). The two agree on what both accept (integers of any size, NaN and
Infinity, duplicate keys: the last wins); what jiter refuses and `json` may accept (a BOM,
UTF-16, lone surrogates, nesting past jiter's limit) is handed to `json`, which accepts or
refuses it as it always did. tests/unit/test_transcoder.py checks the agreement.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import from_json

__all__ = ["loads"]


def loads(data: bytes) -> Any:
    """What `json.loads(data)` returns, or raises what it raises."""
    try:
        return from_json(data)
    except ValueError:
        return json.loads(data)
