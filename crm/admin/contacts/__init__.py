"""The contact admin (endpoint "contact"): the view's configuration and hooks (view), the
edit form (form), the list (listing, columns, filters) and bulk work on many contacts (bulk,
bulk_form)."""
