"""Prefect flows that orchestrate a submission through the services."""
