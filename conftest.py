"""Root conftest: shared plugins for every tier.

Each tier's own options and fixtures live in its suite's conftest.py or in `fixtures/`;
this file only registers what every tier shares.
"""
