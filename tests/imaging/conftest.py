"""Fixtures of the imaging tests."""

import pytest

from helpers import upload


@pytest.fixture(name="store")
def _store(client):
    """Upload bytes, return the reference."""
    return lambda data: upload(client, data).get_data(as_text=True)
