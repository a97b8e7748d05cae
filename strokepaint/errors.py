"""Errors a user sees as one line. UsageError: bad usage or bad input (exit 2);
Failure: something went wrong while running (exit 1)."""


class StrokepaintError(Exception):
    exit_code = 1


class UsageError(StrokepaintError):
    exit_code = 2


class Failure(StrokepaintError):
    exit_code = 1
