"""Moving data in and out: imports, exports and export jobs, backup, demo data."""
