"""Hand-computed end-to-end test of the billing rules (docs/rules.md) on a small raw data set.

The raw rows below are landed in a fresh warehouse, the real `overages build` CLI runs once for the module
with `--through-month 2026-03`, and every row and column of `marts.fct_monthly_overages`,
`marts.fct_invoice_lines` (all but the free-text `description`), `audit.rejected_rows` and
`audit.raw_reconciliation` is compared with figures WORKED OUT BY HAND from docs/rules.md and written out
literally below. Nothing in this file re-implements a rule.

Horizon: 2026-01 .. 2026-03 (months are written 'Jan', 'Feb', 'Mar' below; all 2026).
Landing times: L1 = 2026-04-01 08:00, L2 = 2026-04-02 08:00 (the later one is a correction).

Orgs and the rules/edges each exercises
---------------------------------------
org-a   USD, tier ' cx 1 ' -> CX1, Named (250 tokens). Subscription landed twice for the same
        effective_from (' org-a ' with CX3 at L1, corrected at L2): trimmed ids share a key, L1 row is a
        `duplicate` (rule 2).
        Tokens: Jan exactly 250 (100.25 + 149.75, one at Jan 31 23:59:59) -> no overage; Feb 250.5 with an
        event at exactly 2026-02-01 00:00:00 (rule 1) and a correction (999 -> 240, loser `duplicate`)
        -> 0.5 over; Mar: an event whose correction is negative (L1 `duplicate`, L2 `invalid_quantity`:
        the latest row wins even when it then fails) -> zero-usage month; an event in April is accepted
        but past the horizon (rule 10).
        Cases: Jan exactly 150 (one Jan 31 23:59:59, one identical same-_loaded_at tie -> one
        `duplicate`), Feb 151 (one at exactly 2026-02-01 00:00:00) -> 1 over; Mar 0 (the only March case
        is corrected into April).
        Wallboard (allocation 1, rule 4 intervals): open-ended since before the subscription; deleted at
        exactly 2026-02-01 00:00 (Jan only); created+deleted inside Feb; deleted at the instant created
        (never active, accepted); a correction that deletes an account on Jan 6 (Jan only).
org-eu  EUR, 'CX2-Digital' -> CX2_DIGITAL, ' concurrent ' (350 tokens). Contracts (rule 7):
        ai_tokens 0.67 committed 1.5 for Jan only (valid_to 2026-02-01): Jan usage exactly 350 -> billed
        = committed 1.5, amount 1.005 -> 1.01 (half away from zero, rule 8); Feb the contract has ended
        -> list, 1.005 over: 0.804 -> 0.80 EUR and list_amount_usd 1.005 -> 1.01.
        case_management: 0.25 committed 200 Jan..Feb (ended 2026-03-01), and two rows from Feb
        (0.30 at L1, 0.20 at L2, open). Jan 160 cases: commitment above overage (billed 200);
        Feb 175: the later valid_from wins, then the later _loaded_at (0.20, committed 10), commitment
        below overage (billed 25); Mar 0 cases still billed the commitment 10.
        A USD wallboard contract -> `contract_currency_mismatch`; wallboard billed at list.
org-ex  GBP, ' ex ' -> EX, Named; subscription from 2026-02-10 12:00, so rows start in Feb. A token
        event and a case in Jan -> `no_subscription` (month before the first subscription); a token
        event on Feb 3 (before effective_from, same month) is accepted (rule 3: in force at month end).
        Feb 250.15 tokens -> 0.15 over * 0.700 = 0.105 -> 0.11 GBP (half away from zero).
        Wallboard: an account created and deleted in Jan (accepted, no month shows it), one created at
        exactly 2026-03-01 00:00:00 (active in Mar) and one created Mar 31 23:59:59. A GBP wallboard
        contract from Mar with committed 0: billed = overage, at the contract price.
org-jp  JPY, 'Genesys Cloud CX2 Digital' Named in Jan, 'CX 2 Digital' Concurrent from 2026-02-15 09:00
        (mid-month change: Concurrent allocation for all of Feb, no proration). A March row with
        currency 'YEN' is rejected `unknown_currency` and never in force (March stays Concurrent JPY).
        Tokens: Jan 262.0875 -> 12.0875 over * 120 = 1450.5 -> 1451 yen (whole yen, half away);
        Feb 300 + 50 (either side of the change) = 350 -> 0; Mar 351.25 -> 150 yen.
        Cases Mar 152 -> 96 yen. Wallboard: no accounts, but a JPY contract (2000, committed 2) valid
        from 2025-12-01, before any subscription (currency checked against the org's first billed month).
org-sw  ZAR, 'CX4' Concurrent from Feb; 'cx4' USD from 2026-03-20 (currency of a month = the subscription
        at its last instant, rule 3). Contracts, currency checked against the subscription in force at
        the end of the first covered month: ZAR case contract from Feb accepted, applies in Feb
        (billed = committed 5 with no usage) but not in Mar (billing currency USD -> list);
        USD token contract from Mar accepted (USD at Mar's end though ZAR on Mar 1), billed 100;
        ZAR wallboard contract from Mar -> `contract_currency_mismatch`; USD wallboard contract from Jan
        (no subscription yet: compared with the first billed month, Feb, ZAR) -> `contract_currency_mismatch`.
        Feb tokens 1.0035 over * 14.2 = 14.2497 -> 14.25 ZAR.
org-bad only rejected subscription rows (tier 'CX9' + type 'floating': first fault
        `unknown_license_tier`; 'floating': `unknown_license_type`; null effective_from) -> its token
        event is `no_subscription` (a rejected row is never in force) and it has no mart rows.
org-ghost no subscription at all: case, wallboard account and contract -> `no_subscription`;
        a workitem of its (rejected) case -> `unknown_case`, org_id taken from the case's row.
Before the reference data (rules 1 and 9, it begins in 2000-01): org-a's token event and case at 1999-12-31 23:59:59
        and a wallboard account deleted at exactly 2000-01-01 00:00 -> `no_reference_data`; org-ghost's
        1999 event too (no_reference_data comes before no_subscription). Rule 9: a token event of 1,000,000,000.5
        and a contract unit price of 2,000,000,000 -> `invalid_quantity`.
Other rejections: every reason of rule 9, and rows with two faults where the first in rule 9's order is
reported (missing_id+missing_org, duplicate+missing_org, missing_org+missing_timestamp,
invalid_interval+unknown_case, unknown_license_tier+unknown_license_type, unknown_currency+unknown_feature).
"""

# The expected marts are written one row per line, as tables: wider than the usual line length.
# ruff: noqa: E501

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import land_raw, query, run_cli

pytestmark = pytest.mark.rules  # make test-fast

THROUGH_MONTH = "2026-03"


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A UTC timestamp as the raw tables hold it (naive TIMESTAMP)."""
    return datetime(year, month, day, hour, minute, second)


def d(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def day(text: str) -> date:
    return date.fromisoformat(text)


L1 = ts(2026, 4, 1, 8)
L2 = ts(2026, 4, 2, 8)
CASE_CODE = "GC-170-NV-CASEMGMT"


# --------------------------------------------------------------------------------------------------
# Raw data (input). Bulk case rows are generated; every id is unique and their figures are counted by
# hand in the expectations below.
# --------------------------------------------------------------------------------------------------

def _cases(prefix: str, org: str, count: int, at: datetime) -> list[tuple]:
    return [(f"{prefix}-{i:03d}", org, at, L1) for i in range(count)]


RAW = {
    "org_subscriptions": [
        # org_id, org_name, license_tier, license_type, billing_currency, effective_from, _loaded_at
        (" org-a ", "Org A", "CX3", "named", "USD", ts(2026, 1, 1), L1),            # duplicate (corrected)
        ("org-a", "Org A", " cx 1 ", "Named", " usd ", ts(2026, 1, 1), L2),         # CX1 named USD
        ("org-jp", "Org JP", "Genesys Cloud CX2 Digital", "NAMED", "jpy", ts(2026, 1, 1), L1),
        ("org-jp", "Org JP", "CX 2 Digital", "Concurrent", "JPY", ts(2026, 2, 15, 9), L1),
        ("org-jp", "Org JP", "CX2_DIGITAL", "named", "YEN", ts(2026, 3, 1), L1),    # unknown_currency
        ("org-eu", "Org EU", "CX2-Digital", " concurrent ", "eur", ts(2026, 1, 1), L1),
        ("org-ex", "Org EX", " ex ", "named", "gbp", ts(2026, 2, 10, 12), L1),
        ("org-sw", "Org SW", "CX4", "concurrent", "ZAR", ts(2026, 2, 1), L1),
        ("org-sw", "Org SW", "cx4", "concurrent", "usd", ts(2026, 3, 20), L1),     # currency change
        ("org-bad", "Org Bad", "CX9", "floating", "USD", ts(2026, 1, 1), L1),     # tier AND type unknown
        ("org-bad", "Org Bad", "CX1", "floating", "USD", ts(2026, 2, 1), L1),     # unknown_license_type
        (None, "No Org", "CX1", "named", "USD", ts(2026, 1, 1), L1),              # missing_org
        ("org-bad", "Org Bad", "CX1", "named", "USD", None, L1),                  # missing_timestamp
    ],
    "wallboard_accounts": [
        # account_id, org_id, created_at, deleted_at, _loaded_at
        ("wb-a1", "org-a", ts(2025, 12, 1), None, L1),                   # open-ended: Jan, Feb, Mar
        ("wb-a2", "org-a", ts(2026, 1, 10), ts(2026, 2, 1), L1),          # deleted at Feb's first instant
        ("wb-a3", "org-a", ts(2026, 2, 10, 10), ts(2026, 2, 20), L1),     # created+deleted inside Feb
        ("wb-a4", "org-a", ts(2026, 3, 5), ts(2026, 3, 5), L1),           # deleted at creation: never active
        ("wb-a5", "org-a", ts(2026, 1, 5), None, L1),                     # duplicate (corrected below)
        ("wb-a5", "org-a", ts(2026, 1, 5), ts(2026, 1, 6), L2),           # Jan only
        ("wb-e1", "org-eu", ts(2026, 1, 15), None, L1),
        ("wb-e2", "org-eu", ts(2026, 1, 15), None, L1),
        ("wb-e3", "org-eu", ts(2026, 1, 15), None, L1),
        ("wb-x1", "org-ex", ts(2026, 3, 31, 23, 59, 59), None, L1),       # Mar only
        ("wb-x2", "org-ex", ts(2026, 1, 2), ts(2026, 1, 3), L1),          # before org-ex's first month
        ("wb-x3", "org-ex", ts(2026, 3, 1), ts(2026, 3, 1, 0, 0, 1), L1),  # Mar's first instant: Mar only
        ("wb-g1", "org-ghost", ts(2026, 1, 5), None, L1),                 # no_subscription
        (None, "org-a", ts(2026, 1, 1), None, L1),                        # missing_id
        ("wb-r2", None, ts(2026, 1, 1), None, L1),                        # missing_org
        ("wb-r3", "org-a", None, None, L1),                               # missing_timestamp
        ("wb-r4", "org-a", ts(2026, 2, 2), ts(2026, 2, 1), L1),           # invalid_interval
        ("wb-r5", None, None, None, L1),                                  # missing_org (+ missing_timestamp)
        ("wb-old1", "org-a", ts(1998, 1, 1), ts(2000, 1, 1), L1),          # no_reference_data: active only before 2000
    ],
    "ai_token_events": [
        # event_id, org_id, occurred_at, tokens, ai_feature, _loaded_at
        ("e-a1", "org-a", ts(2026, 1, 5, 10), d("100.25"), "copilot", L1),
        ("e-a2", "org-a", ts(2026, 1, 31, 23, 59, 59), d("149.75"), "copilot", L1),
        ("e-a3", "org-a", ts(2026, 2, 1), d("10.5"), "summary", L1),          # month boundary -> Feb
        ("e-a4", "org-a", ts(2026, 2, 14), d("999"), "summary", L1),          # duplicate
        (" e-a4 ", "org-a", ts(2026, 2, 14), d("240"), "summary", L2),        # correction wins
        ("e-a5", "org-a", ts(2026, 4, 2), d("500"), "copilot", L1),           # accepted, past the horizon
        ("e-a6", "org-a", ts(2026, 3, 3), d("5"), "copilot", L1),             # duplicate
        ("e-a6", "org-a", ts(2026, 3, 3), d("-5"), "copilot", L2),            # winner, invalid_quantity
        ("e-j1", "org-jp", ts(2026, 1, 10), d("262.0875"), "copilot", L1),
        ("e-j2", "org-jp", ts(2026, 2, 3), d("300"), "copilot", L1),          # before the Feb 15 change
        ("e-j3", "org-jp", ts(2026, 2, 20), d("50"), "copilot", L1),          # after it
        ("e-j4", "org-jp", ts(2026, 3, 31, 23, 59, 59), d("351.25"), "copilot", L1),
        ("e-e1", "org-eu", ts(2026, 1, 15), d("350"), "copilot", L1),
        ("e-e2", "org-eu", ts(2026, 2, 2), d("351.005"), "copilot", L1),
        ("e-x1", "org-ex", ts(2026, 1, 31, 23, 59, 59), d("10"), "copilot", L1),  # no_subscription
        ("e-x2", "org-ex", ts(2026, 2, 3), d("250.15"), "copilot", L1),
        ("e-s1", "org-sw", ts(2026, 2, 27), d("351.0035"), "copilot", L1),
        ("e-s2", "org-sw", ts(2026, 3, 5), d("400"), "copilot", L1),             # before the USD change
        ("e-b1", "org-bad", ts(2026, 2, 5), d("1"), "copilot", L1),               # no_subscription
        ("  ", None, ts(2026, 1, 5), d("1"), "copilot", L1),                      # missing_id (+ missing_org)
        ("e-r2", "", ts(2026, 1, 5), d("1"), "copilot", L1),                      # missing_org
        ("e-r3", "org-a", None, d("1"), "copilot", L1),                           # missing_timestamp
        ("e-r4", "org-a", ts(2026, 1, 6), None, "copilot", L1),                   # invalid_quantity
        ("e-old1", "org-a", ts(1999, 12, 31, 23, 59, 59), d("5"), "copilot", L1),  # no_reference_data (rule 9)
        ("e-old2", "org-ghost", ts(1999, 6, 1), d("1"), "copilot", L1),     # no_reference_data before no_subscription
        ("e-big", "org-a", ts(2026, 2, 10), d("1000000000.5"), "copilot", L1),  # invalid_quantity (rule 9: above 1e9)
    ],
    "cases": [
        # case_id, org_id, created_at, _loaded_at
        *_cases("c-a-jan", "org-a", 148, ts(2026, 1, 15)),
        ("c-a-jan-edge", "org-a", ts(2026, 1, 31, 23, 59, 59), L1),
        ("c-a-tie", "org-a", ts(2026, 1, 20), L1),                       # identical rows, same _loaded_at:
        ("c-a-tie", "org-a", ts(2026, 1, 20), L1),                       # one wins, one duplicate
        *_cases("c-a-feb", "org-a", 150, ts(2026, 2, 10)),
        ("c-a-feb-edge", "org-a", ts(2026, 2, 1), L1),                   # exactly Feb's first instant
        ("c-a-move", "org-a", ts(2026, 3, 31, 23), L1),                  # duplicate
        ("c-a-move", "org-a", ts(2026, 4, 1), L2),                       # correction: April, past horizon
        ("c-r5", None, ts(2026, 1, 2), L1),                              # duplicate (+ missing_org)
        ("c-r5", "org-a", ts(2026, 4, 5), L2),                           # accepted, past horizon
        *_cases("c-j-mar", "org-jp", 152, ts(2026, 3, 10)),
        *_cases("c-e-jan", "org-eu", 160, ts(2026, 1, 20)),
        *_cases("c-e-feb", "org-eu", 175, ts(2026, 2, 20)),
        ("c-x1", "org-ex", ts(2026, 1, 20), L1),                         # no_subscription (before first)
        ("c-g1", "org-ghost", ts(2026, 2, 2), L1),                       # no_subscription (none at all)
        ("c-r1", None, ts(2026, 1, 2), L1),                              # missing_org
        (None, "org-a", ts(2026, 1, 2), L1),                             # missing_id
        ("c-r3", "org-a", None, L1),                                     # missing_timestamp
        ("c-old1", "org-a", ts(1999, 12, 31, 23, 59, 59), L1),            # no_reference_data (rule 9)
    ],
    "case_workitems": [
        # workitem_id, case_id, queue_id, created_at, completed_at, _loaded_at
        ("w1", "c-a-jan-edge", "q1", ts(2026, 1, 31, 23, 59, 59), None, L1),
        ("w2", "c-a-tie", "q1", ts(2026, 1, 20), ts(2026, 1, 20), L1),
        ("w3", "c-a-feb-edge", "q1", ts(2026, 2, 1), ts(2026, 2, 2), L1),          # duplicate
        ("w3", "c-a-feb-edge", "q2", ts(2026, 2, 1), ts(2026, 2, 3), L2),
        ("w4", "c-a-feb-edge", "q1", ts(2026, 2, 5), ts(2026, 2, 4), L1),          # invalid_interval
        ("w5", "c-nope", "q1", ts(2026, 2, 5), None, L1),                          # unknown_case
        ("w6", "c-g1", "q1", ts(2026, 2, 5), None, L1),                            # unknown_case (rejected)
        (None, "c-a-tie", "q1", ts(2026, 2, 5), None, L1),                         # missing_id
        ("w8", "c-a-tie", "q1", None, None, L1),                                   # missing_timestamp
        ("w9", "c-a-move", "q1", ts(2026, 4, 1), None, L1),                        # accepted
        ("w10", "c-nope", "q1", ts(2026, 2, 5), ts(2026, 2, 1), L1),               # invalid_interval first
        ("w11", "c-r1", "q1", ts(2026, 1, 2), None, L1),                           # unknown_case
    ],
    "contract_rates": [
        # org_id, feature, currency, unit_price, committed_quantity, valid_from, valid_to, _loaded_at
        ("org-eu", " Case Management ", "eur", d("0.25"), d("200"), day("2026-01-01"), day("2026-03-01"), L1),
        ("org-eu", "case-management", "EUR", d("0.30"), d("10"), day("2026-02-01"), None, L1),
        ("org-eu", "CASE_MANAGEMENT", "EUR", d("0.20"), d("10"), day("2026-02-01"), None, L2),
        ("org-eu", "AI Tokens", "EUR", d("0.67"), d("1.5"), day("2026-01-01"), day("2026-02-01"), L1),
        ("org-eu", "wallboard", "USD", d("10"), d("5"), day("2026-01-01"), None, L1),   # currency mismatch
        ("org-jp", "Wallboard", "JPY", d("2000"), d("2"), day("2025-12-01"), None, L1),
        ("org-ex", "Wallboard", "GBP", d("10"), d("0"), day("2026-03-01"), None, L1),    # committed 0
        ("org-sw", "case management", "ZAR", d("4"), d("5"), day("2026-02-01"), None, L1),
        ("org-sw", "ai-tokens", "usd", d("0.9"), d("100"), day("2026-03-01"), None, L1),
        ("org-sw", "wallboard", "ZAR", d("200"), d("1"), day("2026-03-01"), None, L1),    # mismatch (USD)
        ("org-sw", "wallboard", "USD", d("10"), d("3"), day("2026-01-01"), None, L1),     # mismatch (ZAR)
        ("org-ghost", "ai_tokens", "USD", d("1"), d("1"), day("2026-01-01"), None, L1),  # no_subscription
        (None, "ai_tokens", "USD", d("1"), d("1"), day("2026-01-01"), None, L1),         # missing_org
        ("org-a", "ai_tokens", "USD", d("0.5"), d("1"), None, None, L1),                 # missing_timestamp
        ("org-a", "ai_tokens", "USD", None, d("1"), day("2026-01-01"), None, L1),        # invalid_quantity
        ("org-a", "case_management", "USD", d("0.3"), d("-1"), day("2026-01-01"), None, L1),  # invalid_q.
        ("org-a", "wallboard", "USD", d("10"), d("1"), day("2026-02-01"), day("2026-02-01"), L1),  # interval
        ("org-a", "ai_tokens", "CHF", d("1"), d("1"), day("2026-01-01"), None, L1),      # unknown_currency
        ("org-a", "Video Minutes", "USD", d("1"), d("1"), day("2026-01-01"), None, L1),  # unknown_feature
        ("org-a", "Video", "chf", d("1"), d("1"), day("2026-01-01"), None, L1),          # currency first
        ("org-a", "ai_tokens", "USD", d("2000000000"), d("1"), day("2026-01-01"), None, L1),  # invalid_quantity (rule 9)
    ],
}


# --------------------------------------------------------------------------------------------------
# Expectations, by hand.
# --------------------------------------------------------------------------------------------------

# org_id, billing_month, feature, license_tier, license_type, billing_currency, usage_quantity,
# free_allocation, overage_quantity, committed_quantity, billed_quantity, unit_price, price_source,
# overage_amount, list_amount_usd, invoice_code
EXPECTED_OVERAGES = [
    ("org-a", "2026-01-01", "ai_tokens", "CX1", "named", "USD", "250", "250", "0", "0", "0", "1.00", "list", "0.00", "0.00", None),
    ("org-a", "2026-01-01", "case_management", "CX1", "named", "USD", "150", "150", "0", "0", "0", "0.40", "list", "0.00", "0.00", CASE_CODE),
    ("org-a", "2026-01-01", "wallboard", "CX1", "named", "USD", "3", "1", "2", "0", "2", "18.00", "list", "36.00", "36.00", None),
    ("org-a", "2026-02-01", "ai_tokens", "CX1", "named", "USD", "250.5", "250", "0.5", "0", "0.5", "1.00", "list", "0.50", "0.50", None),
    ("org-a", "2026-02-01", "case_management", "CX1", "named", "USD", "151", "150", "1", "0", "1", "0.40", "list", "0.40", "0.40", CASE_CODE),
    ("org-a", "2026-02-01", "wallboard", "CX1", "named", "USD", "2", "1", "1", "0", "1", "18.00", "list", "18.00", "18.00", None),
    ("org-a", "2026-03-01", "ai_tokens", "CX1", "named", "USD", "0", "250", "0", "0", "0", "1.00", "list", "0.00", "0.00", None),
    ("org-a", "2026-03-01", "case_management", "CX1", "named", "USD", "0", "150", "0", "0", "0", "0.40", "list", "0.00", "0.00", CASE_CODE),
    ("org-a", "2026-03-01", "wallboard", "CX1", "named", "USD", "1", "1", "0", "0", "0", "18.00", "list", "0.00", "0.00", None),

    ("org-eu", "2026-01-01", "ai_tokens", "CX2_DIGITAL", "concurrent", "EUR", "350", "350", "0", "1.5", "1.5", "0.67", "contract", "1.01", "1.50", None),
    ("org-eu", "2026-01-01", "case_management", "CX2_DIGITAL", "concurrent", "EUR", "160", "150", "10", "200", "200", "0.25", "contract", "50.00", "80.00", CASE_CODE),
    ("org-eu", "2026-01-01", "wallboard", "CX2_DIGITAL", "concurrent", "EUR", "3", "1", "2", "0", "2", "14.40", "list", "28.80", "36.00", None),
    ("org-eu", "2026-02-01", "ai_tokens", "CX2_DIGITAL", "concurrent", "EUR", "351.005", "350", "1.005", "0", "1.005", "0.80", "list", "0.80", "1.01", None),
    ("org-eu", "2026-02-01", "case_management", "CX2_DIGITAL", "concurrent", "EUR", "175", "150", "25", "10", "25", "0.20", "contract", "5.00", "10.00", CASE_CODE),
    ("org-eu", "2026-02-01", "wallboard", "CX2_DIGITAL", "concurrent", "EUR", "3", "1", "2", "0", "2", "14.40", "list", "28.80", "36.00", None),
    ("org-eu", "2026-03-01", "ai_tokens", "CX2_DIGITAL", "concurrent", "EUR", "0", "350", "0", "0", "0", "0.80", "list", "0.00", "0.00", None),
    ("org-eu", "2026-03-01", "case_management", "CX2_DIGITAL", "concurrent", "EUR", "0", "150", "0", "10", "10", "0.20", "contract", "2.00", "4.00", CASE_CODE),
    ("org-eu", "2026-03-01", "wallboard", "CX2_DIGITAL", "concurrent", "EUR", "3", "1", "2", "0", "2", "14.40", "list", "28.80", "36.00", None),

    ("org-ex", "2026-02-01", "ai_tokens", "EX", "named", "GBP", "250.15", "250", "0.15", "0", "0.15", "0.70", "list", "0.11", "0.15", None),
    ("org-ex", "2026-02-01", "case_management", "EX", "named", "GBP", "0", "150", "0", "0", "0", "0.28", "list", "0.00", "0.00", CASE_CODE),
    ("org-ex", "2026-02-01", "wallboard", "EX", "named", "GBP", "0", "1", "0", "0", "0", "12.60", "list", "0.00", "0.00", None),
    ("org-ex", "2026-03-01", "ai_tokens", "EX", "named", "GBP", "0", "250", "0", "0", "0", "0.70", "list", "0.00", "0.00", None),
    ("org-ex", "2026-03-01", "case_management", "EX", "named", "GBP", "0", "150", "0", "0", "0", "0.28", "list", "0.00", "0.00", CASE_CODE),
    ("org-ex", "2026-03-01", "wallboard", "EX", "named", "GBP", "2", "1", "1", "0", "1", "10.00", "contract", "10.00", "18.00", None),

    ("org-jp", "2026-01-01", "ai_tokens", "CX2_DIGITAL", "named", "JPY", "262.0875", "250", "12.0875", "0", "12.0875", "120", "list", "1451", "12.09", None),
    ("org-jp", "2026-01-01", "case_management", "CX2_DIGITAL", "named", "JPY", "0", "150", "0", "0", "0", "48", "list", "0", "0.00", CASE_CODE),
    ("org-jp", "2026-01-01", "wallboard", "CX2_DIGITAL", "named", "JPY", "0", "1", "0", "2", "2", "2000", "contract", "4000", "36.00", None),
    ("org-jp", "2026-02-01", "ai_tokens", "CX2_DIGITAL", "concurrent", "JPY", "350", "350", "0", "0", "0", "120", "list", "0", "0.00", None),
    ("org-jp", "2026-02-01", "case_management", "CX2_DIGITAL", "concurrent", "JPY", "0", "150", "0", "0", "0", "48", "list", "0", "0.00", CASE_CODE),
    ("org-jp", "2026-02-01", "wallboard", "CX2_DIGITAL", "concurrent", "JPY", "0", "1", "0", "2", "2", "2000", "contract", "4000", "36.00", None),
    ("org-jp", "2026-03-01", "ai_tokens", "CX2_DIGITAL", "concurrent", "JPY", "351.25", "350", "1.25", "0", "1.25", "120", "list", "150", "1.25", None),
    ("org-jp", "2026-03-01", "case_management", "CX2_DIGITAL", "concurrent", "JPY", "152", "150", "2", "0", "2", "48", "list", "96", "0.80", CASE_CODE),
    ("org-jp", "2026-03-01", "wallboard", "CX2_DIGITAL", "concurrent", "JPY", "0", "1", "0", "2", "2", "2000", "contract", "4000", "36.00", None),

    ("org-sw", "2026-02-01", "ai_tokens", "CX4", "concurrent", "ZAR", "351.0035", "350", "1.0035", "0", "1.0035", "14.2", "list", "14.25", "1.00", None),
    ("org-sw", "2026-02-01", "case_management", "CX4", "concurrent", "ZAR", "0", "150", "0", "5", "5", "4.00", "contract", "20.00", "2.00", CASE_CODE),
    ("org-sw", "2026-02-01", "wallboard", "CX4", "concurrent", "ZAR", "0", "1", "0", "0", "0", "255.60", "list", "0.00", "0.00", None),
    ("org-sw", "2026-03-01", "ai_tokens", "CX4", "concurrent", "USD", "400", "350", "50", "100", "100", "0.90", "contract", "90.00", "100.00", None),
    ("org-sw", "2026-03-01", "case_management", "CX4", "concurrent", "USD", "0", "150", "0", "0", "0", "0.40", "list", "0.00", "0.00", CASE_CODE),
    ("org-sw", "2026-03-01", "wallboard", "CX4", "concurrent", "USD", "0", "1", "0", "0", "0", "18.00", "list", "0.00", "0.00", None),
]

OVERAGE_COLUMNS = (
    "org_id", "billing_month", "feature", "license_tier", "license_type", "billing_currency", "usage_quantity",
    "free_allocation", "overage_quantity", "committed_quantity", "billed_quantity", "unit_price", "price_source",
    "overage_amount", "list_amount_usd", "invoice_code",
)
OVERAGE_DECIMALS = range(6, 12)  # usage_quantity .. unit_price
OVERAGE_AMOUNTS = (13, 14)

# org_id, billing_month, feature, invoice_code, quantity, unit, unit_price, amount, currency, price_source
EXPECTED_INVOICE_LINES = [
    ("org-a", "2026-01-01", "wallboard", None, "2", "account", "18.00", "36.00", "USD", "list"),
    ("org-a", "2026-02-01", "ai_tokens", None, "0.5", "token", "1.00", "0.50", "USD", "list"),
    ("org-a", "2026-02-01", "case_management", CASE_CODE, "1", "case", "0.40", "0.40", "USD", "list"),
    ("org-a", "2026-02-01", "wallboard", None, "1", "account", "18.00", "18.00", "USD", "list"),
    ("org-eu", "2026-01-01", "ai_tokens", None, "1.5", "token", "0.67", "1.01", "EUR", "contract"),
    ("org-eu", "2026-01-01", "case_management", CASE_CODE, "200", "case", "0.25", "50.00", "EUR", "contract"),
    ("org-eu", "2026-01-01", "wallboard", None, "2", "account", "14.40", "28.80", "EUR", "list"),
    ("org-eu", "2026-02-01", "ai_tokens", None, "1.005", "token", "0.80", "0.80", "EUR", "list"),
    ("org-eu", "2026-02-01", "case_management", CASE_CODE, "25", "case", "0.20", "5.00", "EUR", "contract"),
    ("org-eu", "2026-02-01", "wallboard", None, "2", "account", "14.40", "28.80", "EUR", "list"),
    ("org-eu", "2026-03-01", "case_management", CASE_CODE, "10", "case", "0.20", "2.00", "EUR", "contract"),
    ("org-eu", "2026-03-01", "wallboard", None, "2", "account", "14.40", "28.80", "EUR", "list"),
    ("org-ex", "2026-02-01", "ai_tokens", None, "0.15", "token", "0.70", "0.11", "GBP", "list"),
    ("org-ex", "2026-03-01", "wallboard", None, "1", "account", "10.00", "10.00", "GBP", "contract"),
    ("org-jp", "2026-01-01", "ai_tokens", None, "12.0875", "token", "120", "1451", "JPY", "list"),
    ("org-jp", "2026-01-01", "wallboard", None, "2", "account", "2000", "4000", "JPY", "contract"),
    ("org-jp", "2026-02-01", "wallboard", None, "2", "account", "2000", "4000", "JPY", "contract"),
    ("org-jp", "2026-03-01", "ai_tokens", None, "1.25", "token", "120", "150", "JPY", "list"),
    ("org-jp", "2026-03-01", "case_management", CASE_CODE, "2", "case", "48", "96", "JPY", "list"),
    ("org-jp", "2026-03-01", "wallboard", None, "2", "account", "2000", "4000", "JPY", "contract"),
    ("org-sw", "2026-02-01", "ai_tokens", None, "1.0035", "token", "14.2", "14.25", "ZAR", "list"),
    ("org-sw", "2026-02-01", "case_management", CASE_CODE, "5", "case", "4.00", "20.00", "ZAR", "contract"),
    ("org-sw", "2026-03-01", "ai_tokens", None, "100", "token", "0.90", "90.00", "USD", "contract"),
]

INVOICE_COLUMNS = (
    "org_id", "billing_month", "feature", "invoice_code", "quantity", "unit", "unit_price", "amount", "currency",
    "price_source",
)
INVOICE_DECIMALS = (4, 6, 7)

# source_table, record_id, org_id, reason, _loaded_at
EXPECTED_REJECTED = [
    ("org_subscriptions", "org-a|2026-01-01 00:00:00", "org-a", "duplicate", L1),
    ("org_subscriptions", "org-jp|2026-03-01 00:00:00", "org-jp", "unknown_currency", L1),
    ("org_subscriptions", "org-bad|2026-01-01 00:00:00", "org-bad", "unknown_license_tier", L1),
    ("org_subscriptions", "org-bad|2026-02-01 00:00:00", "org-bad", "unknown_license_type", L1),
    ("org_subscriptions", None, None, "missing_org", L1),
    ("org_subscriptions", None, "org-bad", "missing_timestamp", L1),

    ("wallboard_accounts", "wb-a5", "org-a", "duplicate", L1),
    ("wallboard_accounts", "wb-g1", "org-ghost", "no_subscription", L1),
    ("wallboard_accounts", "wb-old1", "org-a", "no_reference_data", L1),
    ("wallboard_accounts", None, "org-a", "missing_id", L1),
    ("wallboard_accounts", "wb-r2", None, "missing_org", L1),
    ("wallboard_accounts", "wb-r3", "org-a", "missing_timestamp", L1),
    ("wallboard_accounts", "wb-r4", "org-a", "invalid_interval", L1),
    ("wallboard_accounts", "wb-r5", None, "missing_org", L1),

    ("ai_token_events", "e-a4", "org-a", "duplicate", L1),
    ("ai_token_events", "e-a6", "org-a", "duplicate", L1),
    ("ai_token_events", "e-a6", "org-a", "invalid_quantity", L2),
    ("ai_token_events", "e-x1", "org-ex", "no_subscription", L1),
    ("ai_token_events", "e-b1", "org-bad", "no_subscription", L1),
    ("ai_token_events", None, None, "missing_id", L1),
    ("ai_token_events", "e-r2", None, "missing_org", L1),
    ("ai_token_events", "e-r3", "org-a", "missing_timestamp", L1),
    ("ai_token_events", "e-r4", "org-a", "invalid_quantity", L1),
    ("ai_token_events", "e-big", "org-a", "invalid_quantity", L1),
    ("ai_token_events", "e-old1", "org-a", "no_reference_data", L1),
    ("ai_token_events", "e-old2", "org-ghost", "no_reference_data", L1),

    ("cases", "c-a-tie", "org-a", "duplicate", L1),
    ("cases", "c-a-move", "org-a", "duplicate", L1),
    ("cases", "c-r5", None, "duplicate", L1),
    ("cases", "c-x1", "org-ex", "no_subscription", L1),
    ("cases", "c-g1", "org-ghost", "no_subscription", L1),
    ("cases", "c-r1", None, "missing_org", L1),
    ("cases", None, "org-a", "missing_id", L1),
    ("cases", "c-r3", "org-a", "missing_timestamp", L1),
    ("cases", "c-old1", "org-a", "no_reference_data", L1),

    ("case_workitems", "w3", "org-a", "duplicate", L1),
    ("case_workitems", "w4", "org-a", "invalid_interval", L1),
    ("case_workitems", "w5", None, "unknown_case", L1),
    ("case_workitems", "w6", "org-ghost", "unknown_case", L1),
    ("case_workitems", None, "org-a", "missing_id", L1),
    ("case_workitems", "w8", "org-a", "missing_timestamp", L1),
    ("case_workitems", "w10", None, "invalid_interval", L1),
    ("case_workitems", "w11", None, "unknown_case", L1),

    ("contract_rates", "org-eu|wallboard|2026-01-01", "org-eu", "contract_currency_mismatch", L1),
    ("contract_rates", "org-sw|wallboard|2026-03-01", "org-sw", "contract_currency_mismatch", L1),
    ("contract_rates", "org-sw|wallboard|2026-01-01", "org-sw", "contract_currency_mismatch", L1),
    ("contract_rates", "org-ghost|ai_tokens|2026-01-01", "org-ghost", "no_subscription", L1),
    ("contract_rates", None, None, "missing_org", L1),
    ("contract_rates", None, "org-a", "missing_timestamp", L1),
    ("contract_rates", "org-a|ai_tokens|2026-01-01", "org-a", "invalid_quantity", L1),
    ("contract_rates", "org-a|case_management|2026-01-01", "org-a", "invalid_quantity", L1),
    ("contract_rates", "org-a|ai_tokens|2026-01-01", "org-a", "invalid_quantity", L1),
    ("contract_rates", "org-a|wallboard|2026-02-01", "org-a", "invalid_interval", L1),
    ("contract_rates", "org-a|ai_tokens|2026-01-01", "org-a", "unknown_currency", L1),
    ("contract_rates", "org-a|video_minutes|2026-01-01", "org-a", "unknown_feature", L1),
    ("contract_rates", "org-a|video|2026-01-01", "org-a", "unknown_currency", L1),
]

# source_table, rows_landed, rows_accepted, rows_rejected, is_balanced
EXPECTED_RECONCILIATION = [
    ("ai_token_events", 26, 14, 12, True),
    ("case_workitems", 12, 4, 8, True),
    ("cases", 799, 790, 9, True),
    ("contract_rates", 21, 8, 13, True),
    # The optional Genesys billing tables, never landed here: the build creates them empty.
    ("genesys_billing_charges", 0, 0, 0, True),
    ("genesys_invoice_lines", 0, 0, 0, True),
    ("org_subscriptions", 13, 7, 6, True),
    ("wallboard_accounts", 19, 11, 8, True),
]


# --------------------------------------------------------------------------------------------------
# The build, once per module.
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules_fixture") / "warehouse.duckdb"
    land_raw(path, RAW)
    run_cli("build", "--warehouse", str(path), "--through-month", THROUGH_MONTH)
    return path


def _typed(row: tuple, decimal_columns, date_columns=(1,)) -> tuple:
    """An expected row with its literal figures as Decimals and months as dates."""
    return tuple(
        day(value) if i in date_columns else (Decimal(value) if i in decimal_columns and value is not None else value)
        for i, value in enumerate(row)
    )


def _compare_keyed(actual: list[tuple], expected: list[tuple], columns: tuple[str, ...], key_width: int) -> list[str]:
    """Every row and column; returns one message per difference (missing/extra rows, differing cells)."""
    problems: list[str] = []
    actual_by_key = {row[:key_width]: row for row in actual}
    expected_by_key = {row[:key_width]: row for row in expected}
    assert len(actual_by_key) == len(actual), "duplicate keys in the mart"
    for key in sorted(expected_by_key.keys() - actual_by_key.keys()):
        problems.append(f"missing row {key}")
    for key in sorted(actual_by_key.keys() - expected_by_key.keys()):
        problems.append(f"unexpected row {actual_by_key[key]}")
    for key in sorted(expected_by_key.keys() & actual_by_key.keys()):
        want, got = expected_by_key[key], actual_by_key[key]
        for name, w, g in zip(columns, want, got, strict=True):
            if w != g or type(w) is not type(g):
                problems.append(f"{key} {name}: expected {w!r}, got {g!r}")
    return problems


def test_monthly_overages_every_row_and_column(built: Path) -> None:
    actual = query(built, f"""
        select {", ".join(OVERAGE_COLUMNS)}
        from marts.fct_monthly_overages
        order by org_id, billing_month, feature
    """)
    expected = [_typed(row, (*OVERAGE_DECIMALS, *OVERAGE_AMOUNTS)) for row in EXPECTED_OVERAGES]
    assert len(expected) == 39
    problems = _compare_keyed(actual, expected, OVERAGE_COLUMNS, key_width=3)
    assert not problems, "fct_monthly_overages differs from the hand-computed figures:\n" + "\n".join(problems)
    assert len(actual) == len(expected)


def test_amounts_are_rounded_to_minor_units(built: Path) -> None:
    """Rule 8: JPY amounts in whole yen, the others in cents (held as decimal(18,4))."""
    rows = query(built, """
        select billing_currency, overage_amount, list_amount_usd from marts.fct_monthly_overages
    """)
    for currency, amount, usd in rows:
        places = 0 if currency == "JPY" else 2
        assert amount == amount.quantize(Decimal(1).scaleb(-places)), (currency, amount)
        assert usd == usd.quantize(Decimal("0.01")), (currency, usd)


def test_invoice_lines_every_row(built: Path) -> None:
    actual = query(built, f"""
        select {", ".join(INVOICE_COLUMNS)}
        from marts.fct_invoice_lines
        order by org_id, billing_month, feature
    """)
    expected = [_typed(row, INVOICE_DECIMALS) for row in EXPECTED_INVOICE_LINES]
    assert len(expected) == 23
    problems = _compare_keyed(actual, expected, INVOICE_COLUMNS, key_width=3)
    assert not problems, "fct_invoice_lines differs from the hand-computed figures:\n" + "\n".join(problems)
    assert len(actual) == len(expected)
    descriptions = query(built, "select description from marts.fct_invoice_lines")
    assert all(text and text.strip() for (text,) in descriptions)


def test_rejected_rows_every_row(built: Path) -> None:
    actual = query(built, """
        select source_table, record_id, org_id, reason, _loaded_at
        from audit.rejected_rows
        order by source_table, reason, record_id nulls first, org_id nulls first, _loaded_at
    """)
    assert len(EXPECTED_REJECTED) == 56
    missing = Counter(EXPECTED_REJECTED) - Counter(actual)
    unexpected = Counter(actual) - Counter(EXPECTED_REJECTED)
    assert not missing and not unexpected, (
        "audit.rejected_rows differs from the hand-written list:\n"
        + "".join(f"  missing:    {row}\n" for row in sorted(missing.elements(), key=repr))
        + "".join(f"  unexpected: {row}\n" for row in sorted(unexpected.elements(), key=repr))
    )


def test_every_rejection_reason_is_exercised(built: Path) -> None:
    reasons = {row[0] for row in query(built, "select distinct reason from audit.rejected_rows")}
    assert reasons == {
        "missing_id", "duplicate", "missing_org", "missing_timestamp", "invalid_quantity", "invalid_interval",
        "unknown_license_tier", "unknown_license_type", "unknown_currency", "unknown_feature", "no_reference_data",
        "no_subscription", "contract_currency_mismatch", "unknown_case",
    }


def test_nothing_lost(built: Path) -> None:
    """Rule 10: for each raw table, landed = accepted + rejected, with hand-counted figures."""
    actual = query(built, """
        select source_table, rows_landed, rows_accepted, rows_rejected, is_balanced
        from audit.raw_reconciliation
        order by source_table
    """)
    assert actual == EXPECTED_RECONCILIATION
    for table, landed, accepted, rejected, _ in EXPECTED_RECONCILIATION:
        assert landed == len(RAW.get(table, [])) == accepted + rejected
