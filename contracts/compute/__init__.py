"""Compute: ECS services, container apps, Cloud Run services, supervised processes (local)."""
