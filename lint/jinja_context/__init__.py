"""What dbt gives the models' Jinja, for sqlfluff's jinja templater (.sqlfluff: library_path).

sqlfluff renders the models itself, without dbt: `load_macros_from_path = macros` loads the project's macros
by their bare names and `apply_dbt_builtins` gives ref, source, config, this and is_incremental. This module
adds the rest the models and macros call: the `overages.` and `dbt.` namespaces, adapter.dispatch, var
(read from dbt_project.yml), and dbt's parse-time values (execute is false, as when dbt parses). The dbt
macros return DuckDB's forms: the rendered SQL only has to parse as the dialect sqlfluff lints.
"""

from __future__ import annotations

import datetime as _datetime
from pathlib import Path as _Path
from typing import Any as _Any

import yaml as _yaml
from jinja2 import pass_context as _pass_context
from jinja2.runtime import Undefined as _Undefined
from sqlfluff.core.templaters.builtins.dbt import MacroReturn as _MacroReturn

_PROJECT = _yaml.safe_load((_Path(__file__).resolve().parents[2] / "dbt_project.yml").read_text())
_VARS = _PROJECT.get("vars") or {}


def _macro(context: _Any, name: str) -> _Any:
    found = context.resolve(name)
    return None if isinstance(found, _Undefined) else found


def _call(macro: _Any, *args: _Any, **kwargs: _Any) -> _Any:
    # A macro of the calling file resolves to itself, not to sqlfluff's wrapper: catch its return() here.
    try:
        return macro(*args, **kwargs)
    except _MacroReturn as returned:
        return returned.value


class _ProjectMacros:
    """`overages.name(...)`: the project's macro of that name."""

    # Jinja's sandbox calls only objects that declare they change nothing.
    unsafe_callable = False
    alters_data = False

    def __getattr__(self, name: str) -> _Any:
        @_pass_context
        def call(context: _Any, *args: _Any, **kwargs: _Any) -> _Any:
            macro = _macro(context, name)
            if macro is None:
                raise NameError(f"no macro overages.{name} in macros/")
            return _call(macro, *args, **kwargs)

        return call


class _Adapter:
    unsafe_callable = False
    alters_data = False

    @staticmethod
    @_pass_context
    def dispatch(context: _Any, name: str, macro_namespace: str | None = None) -> _Any:
        for candidate in (f"duckdb__{name}", f"default__{name}"):
            macro = _macro(context, candidate)
            if macro is not None:
                return macro
        raise NameError(f"no duckdb__{name} or default__{name} in macros/")

    @staticmethod
    def get_columns_in_relation(relation: _Any) -> list[_Any]:
        return [_Column("record_id"), _Column("_batch_at")]


class _Column:
    def __init__(self, name: str) -> None:
        self.name = name


class _DbtMacros:
    """The cross-database macros of dbt (and dbt-duckdb) that the project calls, in DuckDB's form."""

    unsafe_callable = False
    alters_data = False

    @staticmethod
    def type_string() -> str:
        return "varchar"

    @staticmethod
    def type_timestamp() -> str:
        return "timestamp"

    @staticmethod
    def concat(fields: list[str]) -> str:
        return " || ".join(fields)

    @staticmethod
    def hash(field: str) -> str:
        return f"md5(cast({field} as varchar))"

    @staticmethod
    def date_trunc(datepart: str, date: str) -> str:
        return f"date_trunc('{datepart}', {date})"

    @staticmethod
    def dateadd(datepart: str, interval: _Any, from_date_or_timestamp: str) -> str:
        return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {datepart})"

    @staticmethod
    def datediff(first_date: str, second_date: str, datepart: str) -> str:
        return f"date_diff('{datepart}', cast({first_date} as timestamp), cast({second_date} as timestamp))"


class _Namespace:
    def __init__(self, **attributes: _Any) -> None:
        self.__dict__.update(attributes)


def _raise_compiler_error(message: str) -> None:
    raise RuntimeError(message)


def var(name: str, default: _Any = None) -> _Any:
    return _VARS.get(name, default)


overages = _ProjectMacros()
dbt = _DbtMacros()
adapter = _Adapter()
execute = False
run_started_at = _datetime.datetime(2026, 1, 1, tzinfo=_datetime.UTC)
flags = _Namespace(FULL_REFRESH=False, WHICH="parse")
target = _Namespace(name="duckdb", type="duckdb", schema="main")
exceptions = _Namespace(raise_compiler_error=_raise_compiler_error)
