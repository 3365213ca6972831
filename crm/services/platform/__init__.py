"""Shared machinery every domain uses: who may see what (access), history (audit), users, sign-
in and sessions, API tokens, validation, counting and query planning, counters, background
jobs, mail and SMS, the office's time, write conflicts."""
