"""The audit trail: every management change, who made it and from where."""
