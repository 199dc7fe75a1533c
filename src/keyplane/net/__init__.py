"""Network rules shared by every outbound call keyplane makes on a tenant's behalf."""
