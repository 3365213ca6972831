"""Merging duplicate contacts and accounts, and undoing a merge."""
