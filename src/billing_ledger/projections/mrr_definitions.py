"""Which MRR: the definitions the ledger can compute, each named, each from its source.

A definition is Stripe Billing's (`stripe`, the default) with any of three changes, joined by
`+` in this order (`MRR_DEFINITION=all_discounts+past_due_30d`):

- `stripe` — Stripe Billing analytics: only `forever` coupons reduce MRR (`once` and
  `repeating` ones do not); `active` and `past_due` subscriptions count until they are
  canceled or marked `unpaid`; churn is dated when the subscription ends (its status becomes
  `canceled`, which for `cancel_at_period_end` is the period's end).
  Source: https://support.stripe.com/questions/billing-analytics ("Discounts", "Delinquency")
  and https://docs.stripe.com/billing/subscriptions/analytics/glossary ("MRR").
- `all_discounts` — every discount the subscription (or, when it has none, its customer)
  carries reduces MRR while it is applied, whatever its duration: ChartMogul counts "a
  discount being added" as contraction and "a discount expiring" as expansion.
  Source: https://help.chartmogul.com/hc/en-us/articles/203299912 (MRR movement definitions).
- `past_due_<N>d` — a subscription `past_due` for N UTC days or more (counted from the day it
  became past_due to the day read) contributes 0 (churn),
  and counts again if it is paid: ChartMogul's "Handling Past-due Subscriptions" setting
  (churn after a chosen number of days past due). N is 1 to 365.
  Source: https://help.chartmogul.com/hc/en-us/articles/15384089786524 (Subscription Analytics
  settings).
- `churn_at_cancellation` — churn is dated when the customer schedules the cancellation
  (`cancel_at_period_end` set, or `canceled_at` given while the subscription still runs), not
  when it ends: ChartMogul's "as soon as a customer schedules cancellation" churn recognition
  (close to committed MRR). Undoing the cancellation counts as a reactivation.
  Source: https://help.chartmogul.com/article/242-churn-recognition.

The live definition is the one the live schema was built with (`billing.mrr_definition`);
`MRR_DEFINITION` names the one the next `replay` builds, so a change takes effect, for every
month at once, through `replay --swap` (or at once where no subscription is projected yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from billing_ledger.errors import ConfigurationError

DEFAULT = "stripe"
DAY = 86_400
_PAST_DUE = re.compile(r"^past_due_(\d{1,3})d$")


@dataclass(frozen=True)
class MrrDefinition:
    """One way to count MRR (see the module docstring for each knob's source)."""

    every_discount: bool = False
    past_due_days: int | None = None  # None: past_due counts as long as it lasts
    churn_at_cancellation: bool = False

    @property
    def name(self) -> str:
        parts = ["all_discounts"] if self.every_discount else []
        if self.past_due_days is not None:
            parts.append(f"past_due_{self.past_due_days}d")
        if self.churn_at_cancellation:
            parts.append("churn_at_cancellation")
        return "+".join(parts) or DEFAULT

    @property
    def depends_on_time(self) -> bool:
        """Whether MRR can change with no event of its own (a past_due clock running)."""
        return self.past_due_days is not None


STRIPE = MrrDefinition()


def parse(name: str) -> MrrDefinition:
    """The definition `name` names; anything else is a ConfigurationError saying what is."""
    text = name.strip()
    if text == DEFAULT:
        return STRIPE
    every_discount, past_due_days, at_cancellation = False, None, False
    for part in text.split("+"):
        matched = _PAST_DUE.match(part)
        if part == "all_discounts" and not every_discount:
            every_discount = True
        elif matched and past_due_days is None and 1 <= int(matched.group(1)) <= 365:
            past_due_days = int(matched.group(1))
        elif part == "churn_at_cancellation" and not at_cancellation:
            at_cancellation = True
        else:
            raise ConfigurationError(
                f"MRR definition {name!r}: not one of stripe, or all_discounts, past_due_<N>d "
                "(N 1-365) and churn_at_cancellation joined by '+'"
            )
    found = MrrDefinition(every_discount, past_due_days, at_cancellation)
    if found.name != text:
        raise ConfigurationError(
            f"MRR definition {name!r}: write it {found.name!r} (its parts in that order)"
        )
    return found
