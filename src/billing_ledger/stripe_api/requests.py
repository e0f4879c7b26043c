"""What a caller may ask of the services, validated before anything is recorded or sent.

Money is integer minor units and a lowercase ISO currency; ids keep Stripe's prefixes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

CustomerId = Annotated[str, StringConstraints(pattern=r"^cus_[A-Za-z0-9]+$", max_length=255)]
PaymentMethodId = Annotated[str, StringConstraints(pattern=r"^pm_[A-Za-z0-9_]+$", max_length=255)]
TestClockId = Annotated[str, StringConstraints(pattern=r"^clock_[A-Za-z0-9]+$", max_length=255)]
SetupIntentId = Annotated[str, StringConstraints(pattern=r"^seti_[A-Za-z0-9]+$", max_length=255)]
Currency = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
Amount = Annotated[int, Field(gt=0, le=99_999_999)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Address(_Request):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class TaxId(_Request):
    type: Annotated[str, StringConstraints(pattern=r"^[a-z_]+$", max_length=32)]
    value: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class NewCustomer(_Request):
    """A customer; `payment_method` (e.g. `pm_card_visa`) is attached and made the default.

    `test_clock` (test mode only; Stripe refuses it with a live key) puts the customer, and the
    subscriptions made for it, on that clock's frozen time."""

    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=512)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    address: Address | None = None
    tax_id: TaxId | None = None
    user_id: str | None = None
    payment_method: PaymentMethodId | None = None
    test_clock: TestClockId | None = None


class CustomerChanges(_Request):
    email: (
        Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=512)] | None
    ) = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    address: Address | None = None
    user_id: str | None = None


class MandateAcceptance(_Request):
    """The customer's online acceptance of a debit mandate (SEPA, ACH)."""

    ip_address: Annotated[str, StringConstraints(min_length=3, max_length=64)]
    user_agent: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class NewSetup(_Request):
    """Save a payment method for later with a SetupIntent.

    `type`: `card` (wallets are cards), `sepa_debit` (needs `mandate`), `us_bank_account`
    (`verification_method`: `automatic`, `instant` or `microdeposits`).
    """

    type: Literal["card", "sepa_debit", "us_bank_account"] = "card"
    payment_method: PaymentMethodId | None = None
    mandate: MandateAcceptance | None = None
    verification_method: Literal["automatic", "instant", "microdeposits"] | None = None

    @model_validator(mode="after")
    def _debits_need_their_mandate(self) -> NewSetup:
        if self.type != "card" and self.payment_method is not None and self.mandate is None:
            raise ValueError(
                "mandate (the customer's acceptance: ip_address, user_agent) is required to "
                f"save a {self.type} payment method"
            )
        if self.verification_method is not None and self.type != "us_bank_account":
            raise ValueError("verification_method is only for us_bank_account")
        return self


MicrodepositAmount = Annotated[int, Field(gt=0, lt=100)]


class MicrodepositVerification(_Request):
    """What the customer read on their bank statement: the two microdeposits' `amounts` (in
    cents), or the `descriptor_code` (SM and four characters) of the one deposit."""

    amounts: Annotated[list[MicrodepositAmount], Field(min_length=2, max_length=2)] | None = None
    descriptor_code: Annotated[str, StringConstraints(pattern=r"^SM[A-Z0-9]{4}$")] | None = None

    @model_validator(mode="after")
    def _one_of_the_two(self) -> MicrodepositVerification:
        if (self.amounts is None) == (self.descriptor_code is None):
            raise ValueError("give either amounts (two integers) or descriptor_code")
        return self


class PaymentMethodChoice(_Request):
    payment_method: PaymentMethodId
    default: bool = False


class NewPayment(_Request):
    """A one-off charge: created and confirmed at once with `payment_method`; without one,
    created for the customer to pay on the payment page (its `confirmation_url`)."""

    customer: CustomerId
    amount: Amount
    currency: Currency
    payment_method: PaymentMethodId | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    mandate: MandateAcceptance | None = None


class InvoicePayment(_Request):
    """Pay an open invoice again, with its default or another payment method."""

    payment_method: PaymentMethodId | None = None


class NewPortalLink(_Request):
    """A signed link to the customer's pages, valid `expires_in` seconds (1 minute to 30 days)."""

    expires_in: Annotated[int, Field(ge=60, le=30 * 86400)] = 3600


class NewPayLink(_Request):
    """A fresh signed link to one payment's page, valid `expires_in` seconds (1 minute to 30
    days)."""

    expires_in: Annotated[int, Field(ge=60, le=30 * 86400)] = 3600


class NewRefund(_Request):
    """All of a payment (no `amount`) or part of it."""

    amount: Amount | None = None
