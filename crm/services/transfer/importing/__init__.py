"""Bringing contacts in from files (CSV, XLSX, vCard): reading them, recognising known
column sets, mapping columns to contact fields, and running imports as jobs."""
