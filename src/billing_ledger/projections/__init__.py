"""Projector workers and the `billing` read schema they write."""
