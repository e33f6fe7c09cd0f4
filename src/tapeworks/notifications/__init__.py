"""Notifications: e-mail to a user when their work is done (fed by the outbox)."""
