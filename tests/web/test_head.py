"""HEAD works wherever GET does: same status and headers, no body."""

import pytest

from helpers import make_image, upload


@pytest.fixture(name="ref")
def _ref(client):
    """A stored PNG's reference."""
    return upload(client, make_image("PNG")).get_data(as_text=True)


@pytest.mark.parametrize("suffix", ["", ".webp", ".JPG", ".xyz", "-missing"])
def test_head_matches_get(client, ref, suffix):
    """HEAD answers what GET answers, headers included, without the body."""
    path = f"/storage/{ref}{suffix}"
    with client.get(path) as get, client.head(path) as head:
        assert head.status_code == get.status_code
        assert head.data == b""
        for name in ("Content-Type", "Content-Length", "ETag", "Cache-Control"):
            assert head.headers.get(name) == get.headers.get(name)


def test_head_of_openapi_document(client):
    """HEAD /openapi.json answers 200 with the document's type and length."""
    with client.get("/openapi.json") as get, client.head("/openapi.json") as head:
        assert head.status_code == 200 and head.data == b""
        assert head.headers["Content-Length"] == get.headers["Content-Length"]
