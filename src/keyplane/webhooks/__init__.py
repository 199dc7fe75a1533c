"""Webhooks: endpoints an org subscribes to events, an outbox of signed deliveries, the dispatcher."""
