"""The deployment engine: state store, audit trail, planner, apply with locking, journal and rollback.

Nothing here imports dagster: the CLI and the Dagster assets both call these plain functions.
"""
