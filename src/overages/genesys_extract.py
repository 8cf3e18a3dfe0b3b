"""`overages extract genesys`: cases, their workitems, billing-period charges and invoice lines from Genesys
Cloud's Platform API, landed in the warehouse's raw tables in one transaction.

Incremental: the state of each endpoint (the window already fetched, the billing periods already landed
closed, the workitems still open) lives in extract.genesys_state, written in the landing's transaction, so a
run that fails lands nothing and leaves the state as it was. Landing the same record twice is harmless: rule 2
keeps the row with the latest _loaded_at. docs/genesys-extract.md says which API field fills which column.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from overages.genesys_api import Client, ExtractError, cursor_after
from overages.raw_contract import ALL_RAW_TABLES, RAW_SCHEMA, create_table_sql

STATE_SCHEMA = "extract"
STATE_TABLE = f"{STATE_SCHEMA}.genesys_state"
STATE_DDL = f"""
create table if not exists {STATE_TABLE} (
    endpoint varchar primary key,
    state varchar not null,
    updated_at timestamp not null
)
"""

# Cases are fetched from this instant on the first run (the API keeps cases far longer; a first run of a
# year is a reasonable bound, and --since overrides it).
FIRST_RUN_DAYS = 366
# Each run starts a little before the previous one ended: a case created while the previous query ran is
# fetched again rather than missed (the copy is harmless, rule 2).
OVERLAP = timedelta(minutes=15)
CASE_PAGE_SIZE = 100
LIST_PAGE_SIZE = 100
CONTRACT_PAGE_SIZE = 10  # the API's maximum for contracts
JOB_POLL_SECONDS = 0.25
JOB_POLL_LIMIT = 1200  # five minutes

TABLES = ("cases", "case_workitems", "genesys_billing_charges", "genesys_invoice_lines")


@dataclass
class Batch:
    """Everything one run lands, and the state it leaves."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: {table: [] for table in TABLES})
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    org_id: str | None = None
    org_name: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _as_timestamp(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _naive_utc(value)
    return datetime(value.year, value.month, value.day)


def _model(model: type, **attributes: Any) -> Any:
    """An SDK request model (their constructors take no arguments) with these attributes set."""
    instance = model()
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


# -- state ---------------------------------------------------------------------------------------------------


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """The state each endpoint was left in by the last successful run (empty before the first)."""
    if not path.exists():
        return {}
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise ExtractError(f"cannot open warehouse {path}: {str(error).splitlines()[0]}") from None
    try:
        found = con.execute("select count(*) from information_schema.tables where table_schema = ? "
                            "and table_name = 'genesys_state'", [STATE_SCHEMA]).fetchall()[0][0]  # fmt: skip
        if not found:
            return {}
        rows = con.execute(f"select endpoint, state from {STATE_TABLE}").fetchall()
        return {endpoint: json.loads(state) for endpoint, state in rows}
    finally:
        con.close()


# -- fetching ------------------------------------------------------------------------------------------------


def fetch(client: Client, state: dict[str, dict[str, Any]], *, since: datetime | None,
          now: Callable[[], datetime] = utc_now) -> Batch:  # fmt: skip
    """Fetch everything new since `state`; returns the rows and the state to land with them."""
    started = now()
    loaded_at = started
    batch = Batch()
    organization = client.call("organization", client.api("OrganizationApi").get_organizations_me)
    batch.org_id, batch.org_name = organization.id, organization.name
    client.progress(f"organization {batch.org_name} ({batch.org_id})")

    case_ids = _fetch_cases(client, state, batch, since, started, loaded_at)
    _fetch_workitems(client, state, batch, case_ids, loaded_at)
    _fetch_billing_periods(client, state, batch, loaded_at)
    _fetch_invoices(client, state, batch, since, started, loaded_at)
    batch.state["organization"] = {"org_id": batch.org_id, "org_name": batch.org_name}
    return batch


def _fetch_cases(client: Client, state: dict[str, dict[str, Any]], batch: Batch, since: datetime | None,
                 started: datetime, loaded_at: datetime) -> list[str]:  # fmt: skip
    """Cases created since the last window, through case query jobs (one job per page: the job's body carries
    the page number). A case's org is the token's org: the API answers for one organization."""
    sdk = client._sdk
    cases_api = client.api("CaseManagementApi")
    previous = state.get("cases", {}).get("window_end")
    window_start = since or (datetime.fromisoformat(previous) - OVERLAP if previous
                             else started - timedelta(days=FIRST_RUN_DAYS))  # fmt: skip
    filters = [_model(sdk.CaseQueryJobFilter, name="dateCreated", operator="GTE", values=[_iso(window_start)])]
    case_ids: list[str] = []
    page = 1
    while True:
        sort = _model(sdk.CaseQueryJobSort, name="dateCreated", ascending=True)
        body = _model(sdk.CaseQueryJobCreate, page_size=CASE_PAGE_SIZE, page_number=page, filters=filters, sort=sort)
        job = client.call("case query job", cases_api.post_casemanagement_cases_query_jobs, body)
        _wait_for_job(client, cases_api, job)
        results = client.call("case query results", cases_api.get_casemanagement_cases_query_job_results, job.id)
        entities = results.entities or []
        for case in entities:
            batch.rows["cases"].append((case.id, batch.org_id, _naive_utc(case.date_created), loaded_at))
            case_ids.append(case.id)
        client.count("cases", len(entities))
        client.progress(f"  cases: {client.fetched.get('cases', 0):,} fetched (page {page}"
                        f"{f' of {results.page_count}' if results.page_count else ''})")  # fmt: skip
        if not entities or (results.page_count or 0) <= page:
            break
        page += 1
    batch.state["cases"] = {"window_start": window_start.isoformat(), "window_end": started.isoformat()}
    return case_ids


def _wait_for_job(client: Client, cases_api: Any, job: Any) -> None:
    polls = 0
    while job.state not in ("Succeeded", "Failed"):
        polls += 1
        if polls > JOB_POLL_LIMIT:
            raise ExtractError(f"the case query job {job.id} did not finish in {JOB_POLL_LIMIT} polls")
        client.sleep(JOB_POLL_SECONDS)
        job = client.call("case query job status", cases_api.get_casemanagement_cases_query_job, job.id)
    if job.state == "Failed":
        message = job.error.message if job.error else "no reason given"
        raise ExtractError(f"the case query job {job.id} failed in Genesys Cloud: {message}")


def _pages(client: Client, endpoint: str, function: Callable[..., Any], *args: Any,
           **kwargs: Any) -> Iterator[list[Any]]:  # fmt: skip
    """Every page of a cursor-paged listing (nextUri carries the `after` cursor)."""
    after = None
    while True:
        listing = client.call(endpoint, function, *args, **({**kwargs, "after": after} if after else kwargs))
        entities = listing.entities or []
        client.count(endpoint, len(entities))
        yield entities
        after = cursor_after(listing.next_uri)
        if not after or not entities:
            return


def _fetch_workitems(client: Client, state: dict[str, dict[str, Any]], batch: Batch, case_ids: list[str],
                     loaded_at: datetime) -> None:  # fmt: skip
    """The workitems of the new cases (a workitem-type step names its workitem), and again every workitem that
    was still open at the last run, so that its completion lands. A workitem names no case: the case is the
    one whose step links it."""
    cases_api = client.api("CaseManagementApi")
    tasks_api = client.api("TaskManagementApi")
    to_fetch: dict[str, str] = dict(state.get("case_workitems", {}).get("open", {}))
    for case_id in case_ids:
        for stages in _pages(client, "case stages", cases_api.get_casemanagement_case_stages, case_id,
                             page_size=LIST_PAGE_SIZE):  # fmt: skip
            for stage in stages:
                for steps in _pages(client, "case steps", cases_api.get_casemanagement_case_stage_steps, case_id,
                                    stage.id, page_size=LIST_PAGE_SIZE):  # fmt: skip
                    for step in steps:
                        if step.workitem_activity is not None and step.workitem_activity.id:
                            to_fetch[step.workitem_activity.id] = case_id
    still_open: dict[str, str] = {}
    for workitem_id, case_id in sorted(to_fetch.items()):
        item = client.call("workitem", tasks_api.get_taskmanagement_workitem, workitem_id)
        client.count("case_workitems", 1)
        closed = _naive_utc(item.date_closed)
        batch.rows["case_workitems"].append((item.id, case_id, item.queue.id if item.queue else None,
                                             _naive_utc(item.date_created), closed, loaded_at))  # fmt: skip
        if closed is None:
            still_open[item.id] = case_id
    if to_fetch:
        client.progress(f"  case_workitems: {len(to_fetch):,} fetched, {len(still_open):,} still open")
    batch.state["case_workitems"] = {"open": still_open}


def _fetch_billing_periods(client: Client, state: dict[str, dict[str, Any]], batch: Batch,
                           loaded_at: datetime) -> None:  # fmt: skip
    """The charges of every billing period not yet landed closed: an open period is fetched again on each run
    (its figures grow until it closes); a closed one once."""
    billing = client.api("BillingApi")
    landed_closed = set(state.get("genesys_billing_charges", {}).get("closed_periods", []))
    closed = set(landed_closed)
    for contracts in _pages(client, "billing contracts", billing.get_billing_contracts,
                            page_size=CONTRACT_PAGE_SIZE):  # fmt: skip
        for contract in contracts:
            for period in contract.billing_periods or []:
                if period.id in landed_closed:
                    continue
                detail = client.call("billing period", billing.get_billing_contract_billingperiod, contract.id,
                                     period.id)  # fmt: skip
                status = detail.status or period.status
                for charge in detail.charges or []:
                    for org_id, org_name in _charge_orgs(charge, batch):
                        product = charge.product
                        batch.rows["genesys_billing_charges"].append((
                            contract.id, detail.id or period.id, status, _as_timestamp(detail.date_start),
                            _as_timestamp(detail.date_end), charge.id, product.sku if product else None,
                            product.name if product else None, product.unit_of_measure if product else None,
                            org_id, org_name, charge.prepaid_quantity, charge.fairuse_quantity,
                            charge.actual_quantity, charge.overage_quantity, charge.overage_rate,
                            charge.overage_charge, charge.overage_currency, loaded_at,
                        ))  # fmt: skip
                client.count("genesys_billing_charges", len(detail.charges or []))
                if status == "Closed":
                    closed.add(period.id)
    client.progress(f"  genesys_billing_charges: {len(batch.rows['genesys_billing_charges']):,} rows")
    batch.state["genesys_billing_charges"] = {"closed_periods": sorted(closed)}


def _charge_orgs(charge: Any, batch: Batch) -> list[tuple[str | None, str | None]]:
    """A charge names the organizations it covers; none named means the token's own."""
    orgs = [(org.id, org.name) for org in charge.organizations or [] if org is not None]
    return orgs or [(batch.org_id, batch.org_name)]


def _fetch_invoices(client: Client, state: dict[str, dict[str, Any]], batch: Batch, since: datetime | None,
                    started: datetime, loaded_at: datetime) -> None:  # fmt: skip
    """Invoices dated since the last run (a day of overlap: the filter is by date), and every line of each."""
    billing = client.api("BillingApi")
    previous = state.get("genesys_invoice_lines", {}).get("date_end")
    if since is not None:
        date_start = since.date()
    elif previous:
        date_start = date.fromisoformat(previous) - timedelta(days=1)
    else:
        date_start = (started - timedelta(days=FIRST_RUN_DAYS)).date()
    date_end = started.date()
    for invoices in _pages(client, "invoices", billing.get_billing_contracts_invoices, page_size=LIST_PAGE_SIZE,
                           date_start=date_start, date_end=date_end):  # fmt: skip
        for invoice in invoices:
            for lines in _pages(client, "invoice lines", billing.get_billing_contracts_invoice_lines, invoice.id,
                                page_size=LIST_PAGE_SIZE):  # fmt: skip
                for line in lines:
                    product = line.product
                    org = line.organization
                    batch.rows["genesys_invoice_lines"].append((
                        invoice.id, line.id, _as_timestamp(invoice.date_invoiced), invoice.currency_iso_code,
                        product.sku if product else None, product.name if product else None, line.description,
                        org.id if org and org.id else batch.org_id, line.quantity, line.unit_of_measure,
                        line.amount, _as_timestamp(line.date_start), _as_timestamp(line.date_end), loaded_at,
                    ))  # fmt: skip
    client.progress(f"  genesys_invoice_lines: {len(batch.rows['genesys_invoice_lines']):,} rows")
    batch.state["genesys_invoice_lines"] = {"date_start": date_start.isoformat(), "date_end": date_end.isoformat()}


# -- landing -------------------------------------------------------------------------------------------------


def land(con: duckdb.DuckDBPyConnection, batch: Batch) -> dict[str, int]:
    """Append the batch to the raw tables and record the state, all in one transaction; returns rows per table.

    A raw table that does not exist yet is created as the landing contract defines it.
    """
    updated_at = utc_now()
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        con.execute(f"create schema if not exists {STATE_SCHEMA}")
        con.execute(STATE_DDL)
        counts = {}
        for table in TABLES:
            con.execute(create_table_sql(table, replace=False))
            columns = ALL_RAW_TABLES[table]
            rows = batch.rows[table]
            if rows:
                names = ", ".join(c.name for c in columns)
                placeholders = ", ".join(f"cast(? as {c.sql_type})" for c in columns)
                con.executemany(f"insert into {RAW_SCHEMA}.{table} ({names}) values ({placeholders})", rows)
            counts[table] = len(rows)
        for endpoint, state in batch.state.items():
            con.execute(f"insert or replace into {STATE_TABLE} values (?, ?, ?)",
                        [endpoint, json.dumps(state, sort_keys=True), updated_at])  # fmt: skip
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    return counts
