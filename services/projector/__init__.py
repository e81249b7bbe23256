"""Projecting the events onto the read-model tables in PostgreSQL, and rebuilding them."""
