"""Errors a person can act on: the CLI prints their message on one line and exits non-zero."""


class OveragesError(Exception):
    """A problem with the input or the environment, explained in one line."""

    exit_code = 2


class BuildFailed(OveragesError):
    """dbt ran, and a model or a test failed."""

    exit_code = 1


class ValidationFailed(OveragesError):
    """A failure-level expectation failed on the marts."""

    exit_code = 1
