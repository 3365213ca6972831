"""Leads, deals, orders and payments, consumers."""
