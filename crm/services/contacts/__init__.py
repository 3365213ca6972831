"""Contacts and accounts: saving a contact, batch writes, accounts, duplicates, search, list
filters, the selection, bulk work, the lifecycle, geocoding, responsible users, the
dashboard, logins for contacts."""
