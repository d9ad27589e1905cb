"""Every error is a short RFC 9457 problem document, whoever raises it."""

import uuid

import pytest

from progimage import exceptions
from progimage.web.errors import STATUS_BY_ERROR

PROBLEM_FIELDS = {"type", "title", "status", "detail"}
# The status each domain error answers, written here, not read from the table.
EXPECTED = {
    "InvalidUpload": 400, "InvalidOptions": 400, "UnsupportedImage": 400,
    "UnknownFormat": 400, "ImageNotFound": 404, "ImageTooLarge": 422,
    "ConversionFailed": 422, "MissingCredentials": 401, "WrongCredentials": 403,
    "ConversionTimedOut": 503, "ConversionOverran": 503, "ConvertersBusy": 503,
    "StorageUnavailable": 503, "StoredImageCorrupt": 503, "StorageFull": 507,
    "FetchRefused": 400, "FetchFailed": 502, "FetchTimedOut": 504,
}


def every_domain_error(base: type = exceptions.ServiceError) -> list[str]:
    """The names of every ServiceError subclass, at any depth."""
    found = []
    for error in base.__subclasses__():
        found += [error.__name__, *every_domain_error(error)]
    return sorted(found)


@pytest.fixture(name="raising_client")
def _raising_client(app):
    """A client whose app has a route raising any domain error by name."""
    def fail(name: str):
        raise getattr(exceptions, name)(f"{name} happened")

    app.add_url_rule("/raise/<name>", view_func=fail)
    return app.test_client()


@pytest.mark.parametrize("error", every_domain_error())
def test_each_domain_error_has_its_status(raising_client, error):
    """Each domain error answers its status as problem JSON with the detail: a new
    one left out of the table (it would answer 400) fails here."""
    assert error in EXPECTED, f"{error}: add it to STATUS_BY_ERROR and to EXPECTED"
    status = EXPECTED[error]
    assert STATUS_BY_ERROR[getattr(exceptions, error)] == status
    response = raising_client.get(f"/raise/{error}")
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_json()
    assert set(body) == PROBLEM_FIELDS
    assert (body["status"], body["detail"]) == (status, f"{error} happened")


@pytest.mark.parametrize("error, header", [
    ("MissingCredentials", "WWW-Authenticate"),
    ("ConversionTimedOut", "Retry-After"),
    ("StorageFull", "Retry-After"),
])
def test_errors_tell_what_to_do_next(raising_client, error, header):
    """401 carries a challenge, 503 and 507 say when to retry."""
    response = raising_client.get(f"/raise/{error}")
    assert response.headers[header]


@pytest.mark.parametrize("method, path, status", [
    ("get", "/nothing/here", 404),
    ("get", "/storage/", 405),
    ("patch", "/storage/", 405),
    ("delete", "/openapi.json", 405),
    ("get", f"/storage/{uuid.uuid4()}/extra", 404),
])
def test_routing_errors_are_problem_json(client, method, path, status):
    """werkzeug's own 404 and 405 are problem documents too (405 keeps Allow)."""
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert set(response.get_json()) == PROBLEM_FIELDS
    if status == 405:
        assert "PUT" in response.headers["Allow"] or "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", [
    f"/storage/{uuid.uuid4()}", f"/storage/{uuid.uuid4()}.webp", "/no/such/page",
    f"/cards/{uuid.uuid4()}",
], ids=["original", "variant", "unknown route", "card"])
def test_error_pages_for_browsers_carry_the_page_policy(client, path):
    """A browser's error page may load only the site's own files and never be framed,
    whichever route failed."""
    browser = "text/html,application/xhtml+xml,*/*;q=0.8"
    response = client.get(path, headers={"Accept": browser})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
