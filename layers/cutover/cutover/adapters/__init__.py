"""Adapters at the edge: every AWS call of the control plane goes through one of these."""
