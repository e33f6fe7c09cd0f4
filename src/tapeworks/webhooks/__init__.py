"""Webhooks: endpoints users register, signed deliveries of events (Standard Webhooks 1.0)."""
