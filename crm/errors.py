"""Domain errors: raised by services, turned into form errors, flashes or 4xx by the boundaries."""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken; `message` is fit to show to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationFailed(DomainError):
    """One or more fields are invalid. `errors` maps a field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(summary)


class StaleEditError(DomainError):
    """Someone else saved the record after this edit started (optimistic locking)."""


class PermissionDenied(DomainError):
    """The acting user may not do this."""


class NotFound(DomainError):
    """No such record, or not one the acting user may see."""


class FieldError(ValueError):
    """A single value is invalid; raised by the cleaning functions in services.validation."""
