"""Fuzzing the webhook endpoint over real HTTP against a real Postgres log.

Whatever the headers, body and encoding: never a 500, every refusal names a reason from the
bounded set, and the log of record grows only when the signature is valid for the body.
"""

from __future__ import annotations

import time

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing_ledger.ingest.app import REFUSAL_REASONS
from billing_ledger.ingest.signature import sign
from tests.integration.test_ingest_http import URL, Edge, logged
from tests.support.http_server import serving
from tests.support.stripe import customer, event
from tests.support.webhooks import SECRET, body_of

VALID = body_of(event("customer.created", customer("cus_Fuzz")))

# What HTTP/1.1 lets a header value carry (visible ASCII, space, obs-text), sent as latin-1.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=80,
).map(str.strip)
bodies = st.one_of(
    st.binary(max_size=2048),
    st.just(VALID),
    st.builds(lambda n: VALID[:n], st.integers(0, len(VALID))),
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    st.text(max_size=100).map(lambda t: t.encode("utf-16")),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ).map(lambda doc: body_of({"doc": doc})[8:-1]),
)
signatures = st.one_of(
    st.none(),
    header_text,
    st.builds(lambda t, sig: f"t={t},v1={sig}", st.integers(-(10**15), 10**15), header_text),
    st.just("sign-correctly"),
    st.just("sign-other-secret"),
)
content_types = st.one_of(
    st.none(),
    st.just("application/json"),
    st.just("application/json; charset=utf-8"),
    header_text,
)


def test_fuzzed_webhooks(database_url: str) -> None:
    edge = Edge(database_url)
    try:
        with serving(edge.app(max_body_bytes=1024 + 512)) as base_url:
            with httpx.Client(base_url=base_url, timeout=10) as client:
                _fuzz(client, database_url)
    finally:
        edge.close()


def _fuzz(client: httpx.Client, database_url: str) -> None:
    accepted: list[bytes] = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        body=bodies,
        signature=signatures,
        content_type=content_types,
        extra=st.dictionaries(
            st.sampled_from(["X-Forwarded-For", "Content-Encoding", "Accept", "Stripe-Account"]),
            header_text,
            max_size=3,
        ),
        method=st.sampled_from(["POST", "POST", "POST", "PUT", "GET", "DELETE"]),
    )
    # Always exercised, so the run proves the valid path appends, not only that refusals don't.
    @example(VALID, "sign-correctly", "application/json; charset=utf-8", {}, "POST")
    def one_request(
        body: bytes,
        signature: str | None,
        content_type: str | None,
        extra: dict[str, str],
        method: str,
    ) -> None:
        headers = dict(extra)
        valid = signature == "sign-correctly"
        if valid:
            signature = sign(body, SECRET, int(time.time()))
        elif signature == "sign-other-secret":
            signature = sign(body, "whsec_not_configured", int(time.time()))
        if signature is not None:
            headers["Stripe-Signature"] = signature
        if content_type is not None:
            headers["Content-Type"] = content_type
        before = logged(database_url)
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        response = client.request(method, URL, content=body, headers=raw)
        after = logged(database_url)
        assert response.status_code < 500 or response.status_code == 503, response.text
        assert response.status_code != 503, "the log is up: nothing may be refused as down"
        if response.status_code == 200:
            assert valid and method == "POST"
            assert after == before + 1
            accepted.append(body)
        else:
            assert after == before
            assert response.json()["error"] in REFUSAL_REASONS

    one_request()
    assert VALID in accepted
