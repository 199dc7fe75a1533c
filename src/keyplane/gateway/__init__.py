"""The gateway domain: key cache, limits and reservations, routing, forwarding and metering."""
