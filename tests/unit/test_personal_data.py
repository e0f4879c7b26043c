"""What is personal in a Stripe event, and how it is sealed: facts keep ids, amounts, statuses
and dates readable; personal values become tokens only their data key opens."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from billing_ledger.errors import ConfigurationError
from billing_ledger.infra.data_key import DataKey, UnreadableSeal, sealed_body_key_id
from billing_ledger.infra.master_key import FileMasterKey, WrongMasterKey, generate_text
from billing_ledger.schemas.envelope import StripeEvent, parse_event
from billing_ledger.schemas.personal import REDACTED, data_subject, facts_of, token_key_id
from tests.support.stripe import charge, customer, event, invoice, payment_intent, tax_id

EMAIL = "ada.lovelace@example.com"
ADDRESS = {
    "line1": "12 St James's Square",
    "line2": None,
    "city": "London",
    "state": None,
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def key() -> DataKey:
    return DataKey(uuid4(), DataKey.new_material())


def parsed(document: dict[str, Any]) -> StripeEvent:
    return parse_event(json.dumps(document).encode())


def sealed(document: dict[str, Any], data_key: DataKey) -> dict[str, Any]:
    return facts_of(json.loads(json.dumps(document)), data_key.seal_value)


def person(**fields: Any) -> dict[str, Any]:
    return customer(
        "cus_Ada",
        **{"name": "Ada Lovelace", "email": EMAIL, **fields},
        phone="+44 20 7946 0000",
        address=ADDRESS,
        description="met at the analytical engine fair",
        shipping={"name": "Ada Lovelace", "phone": None, "address": ADDRESS},
        metadata={"user_id": "5f0c6b8e-1d1a-4c55-9a55-9a1f6bb1a001", "nickname": "Countess"},
        balance=-500,
    )


def test_a_customers_personal_values_become_tokens_and_the_rest_stays_readable() -> None:
    data_key = key()
    facts = sealed(event("customer.created", person()), data_key)
    obj = facts["data"]["object"]
    text = json.dumps(facts)
    for secret in (EMAIL, "Ada Lovelace", "+44 20 7946 0000", "St James", "analytical", "Countess"):
        assert secret not in text
    assert obj["id"] == "cus_Ada" and obj["object"] == "customer"
    assert obj["balance"] == -500 and obj["currency"] == "usd" and obj["created"]
    assert obj["metadata"]["user_id"] == "5f0c6b8e-1d1a-4c55-9a55-9a1f6bb1a001"
    assert obj["address"]["line2"] is None  # absence is not personal
    assert data_key.open_value(obj["email"]) == EMAIL
    assert data_key.open_value(obj["address"]["city"]) == "London"
    assert data_key.open_value(obj["shipping"]["name"]) == "Ada Lovelace"
    assert token_key_id(obj["email"]) == data_key.key_id


def test_equal_values_seal_to_equal_tokens_so_ordering_compares_them_as_before() -> None:
    data_key = key()
    updated = event(
        "customer.updated",
        person(),
        previous_attributes={"email": "old@example.com", "name": "Ada Byron"},
    )
    earlier = sealed(event("customer.created", person(email="old@example.com")), data_key)
    later = sealed(updated, data_key)
    assert later["data"]["previous_attributes"]["email"] == earlier["data"]["object"]["email"]
    assert later["data"]["object"]["email"] != earlier["data"]["object"]["email"]
    assert sealed(updated, data_key) == later
    assert sealed(updated, key()) != later


def test_personal_values_nested_in_expanded_objects_are_sealed() -> None:
    data_key = key()
    paying = charge(
        billing_details={"email": EMAIL, "name": "Ada Lovelace", "phone": None, "address": ADDRESS},
        receipt_email=EMAIL,
        description="Ada's order",
    )
    intent = payment_intent(latest_charge=paying, receipt_email=EMAIL, description="Ada's order")
    billed = invoice(customer_email=EMAIL, customer_name="Ada Lovelace", customer_address=ADDRESS)
    for document in (event("payment_intent.succeeded", intent), event("invoice.paid", billed)):
        facts = sealed(document, data_key)
        assert EMAIL not in json.dumps(facts) and "Ada" not in json.dumps(facts)
    facts = sealed(event("payment_intent.succeeded", intent), data_key)["data"]["object"]
    assert facts["amount"] == intent["amount"] and facts["status"] == intent["status"]
    assert facts["latest_charge"]["payment_method_details"]["card"]["last4"] == "4242"
    assert data_key.open_value(facts["latest_charge"]["billing_details"]["email"]) == EMAIL


def test_a_tax_ids_value_is_personal_its_type_is_not() -> None:
    data_key = key()
    facts = sealed(event("customer.tax_id.created", tax_id(value="DE123456789")), data_key)
    obj = facts["data"]["object"]
    assert obj["type"] == "eu_vat" and "DE123456789" not in json.dumps(facts)
    assert data_key.open_value(obj["value"]) == "DE123456789"


def test_a_forgotten_persons_values_are_redacted() -> None:
    facts = facts_of(event("customer.updated", person()), lambda _path, _value: REDACTED)
    obj = facts["data"]["object"]
    assert obj["email"] == REDACTED and obj["address"]["city"] == REDACTED
    assert obj["address"]["line2"] is None and obj["id"] == "cus_Ada"


def test_the_data_subject_is_the_customer_or_else_the_payment() -> None:
    assert data_subject(parsed(event("customer.created", person()))) == ("cus_Ada", "cus_Ada")
    assert data_subject(parsed(event("invoice.paid", invoice()))) == ("cus_Test1", "cus_Test1")
    guest = parsed(event("charge.succeeded", charge(customer=None)))
    assert data_subject(guest) == (None, "pi_Test1")
    named = parsed(event("charge.succeeded", charge()))
    assert data_subject(named) == ("cus_Test1", "pi_Test1")


def test_a_token_or_body_opens_only_with_its_key() -> None:
    data_key, other = key(), key()
    token = data_key.seal_value("customer.email", EMAIL)
    with pytest.raises(UnreadableSeal):
        other.open_value(token)
    body = b'{"id": "evt_1", "email": "ada@example.com"}'
    blob = data_key.seal_body(body, "evt_1")
    assert sealed_body_key_id(blob) == data_key.key_id
    assert data_key.open_body(blob, "evt_1") == body
    with pytest.raises(UnreadableSeal):
        data_key.open_body(blob, "evt_2")  # bound to its event: no swapping sealed bodies
    assert data_key.seal_body(body, "evt_1") != blob  # random nonces for bodies


def test_a_master_key_unwraps_only_what_it_wrapped() -> None:
    master, other = (FileMasterKey.from_text(generate_text(), "test") for _ in range(2))
    material = DataKey.new_material()
    wrapped = master.wrap(material, b"context")
    assert master.unwrap(wrapped, b"context") == material
    assert master.key_id != other.key_id and len(master.key_id) == 12
    with pytest.raises(WrongMasterKey):
        other.unwrap(wrapped, b"context")
    with pytest.raises(WrongMasterKey):
        master.unwrap(wrapped, b"another key's context")


@pytest.mark.parametrize("text", ["not base64!", "c2hvcnQ="])
def test_a_malformed_master_key_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="BILLING_LEDGER_MASTER_KEY"):
        FileMasterKey.from_text(text, "BILLING_LEDGER_MASTER_KEY")
