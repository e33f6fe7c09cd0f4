"""Clients of a coaching practice and the coaching log kept for them."""
