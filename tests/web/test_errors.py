"""Every error is a short RFC 9457 problem document, whoever raises it."""


import pytest

from progimage import exceptions
from progimage.web.errors import STATUS_BY_ERROR

# A reference nothing is stored under, the same in every test process (pytest-xdist
# requires the same test ids in every worker).
UNKNOWN = "3f1c2b7e-9d4a-4c1e-8b2f-6a5d7e8f9012"

PROBLEM_FIELDS = {"type", "title", "status", "detail"}
# The status each domain error answers, written here, not read from the table.
EXPECTED = {
    "InvalidUpload": 400, "InvalidOptions": 400, "UnsupportedImage": 400,
    "UnknownFormat": 400, "ImageNotFound": 404, "ImageTooLarge": 422,
    "ConversionFailed": 422, "MissingCredentials": 401, "WrongCredentials": 403,
    "MissingSignature": 403, "WrongSignature": 403, "ExpiredSignature": 403,
    "RateLimited": 429,
    "ConversionTimedOut": 503, "ConversionOverran": 503, "ConvertersBusy": 503,
    "StorageUnavailable": 503, "StoredImageCorrupt": 503, "StorageFull": 507,
    "NotAcceptable": 406,
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


# What each error tells the client to do next, written here: a 503 from a slow
# conversion says come back in 30 s, a full queue in 5 s, a full disk in 5 minutes.
NEXT_STEP = {
    "MissingCredentials": {"WWW-Authenticate": 'Bearer realm="progimage"'},
    "ConversionTimedOut": {"Retry-After": "30"},
    "ConversionOverran": {"Retry-After": "30"},
    "ConvertersBusy": {"Retry-After": "5"},
    "StorageFull": {"Retry-After": "300"},
    # The limiter knows when the window resets; raised bare it says 1 s.
    "RateLimited": {"Retry-After": "1"},
}


@pytest.mark.parametrize("error", every_domain_error())
def test_errors_tell_what_to_do_next(raising_client, error):
    """401 carries a challenge, 503 and 507 say when to retry, with these exact
    values; the other errors send neither header."""
    response = raising_client.get(f"/raise/{error}")
    sent = {
        name: response.headers[name]
        for name in ("WWW-Authenticate", "Retry-After")
        if name in response.headers
    }
    assert sent == NEXT_STEP.get(error, {})


NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)
NOT_ALLOWED = "The method is not allowed for the requested URL."


@pytest.mark.parametrize("method, path, status, detail", [
    ("get", "/nothing/here", 404, NOT_FOUND),
    ("get", "/storage/", 405, NOT_ALLOWED),
    ("patch", "/storage/", 405, NOT_ALLOWED),
    ("delete", "/openapi.json", 405, NOT_ALLOWED),
    ("get", f"/storage/{UNKNOWN}/extra", 404, NOT_FOUND),
])
def test_routing_errors_are_problem_json(client, method, path, status, detail):
    """werkzeug's own 404 and 405 are problem documents too, with werkzeug's
    explanation (405 keeps Allow)."""
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) == PROBLEM_FIELDS
    assert (body["status"], body["detail"]) == (status, detail)
    if status == 405:
        assert "PUT" in response.headers["Allow"] or "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", [
    f"/storage/{UNKNOWN}", f"/storage/{UNKNOWN}.webp", "/no/such/page",
    f"/cards/{UNKNOWN}",
], ids=["original", "variant", "unknown route", "card"])
def test_error_pages_for_browsers_carry_the_page_policy(client, path):
    """A browser's error page may load only the site's own files and never be framed,
    whichever route failed."""
    browser = "text/html,application/xhtml+xml,*/*;q=0.8"
    response = client.get(path, headers={"Accept": browser})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<title>404 Not Found · ProgImage</title>" in page
    assert "<h1>Not Found</h1>" in page
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_unexpected_error_is_a_logged_500_without_internals(app, caplog):
    """An exception no handler knows answers 500 with a fixed sentence, and the
    traceback goes to the log, not to the client."""
    def crash():
        raise RuntimeError("secret internals")

    app.add_url_rule("/crash", view_func=crash)
    response = app.test_client().get("/crash")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank", "title": "Internal Server Error", "status": 500,
        "detail": "the server failed to handle this request; it has been logged",
    }
    [record] = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert record.exc_info[1].args == ("secret internals",)


def test_an_error_left_out_of_the_table_answers_400(app):
    """A domain error no one added to the table still answers as problem JSON,
    with 400 and no extra headers (the test above makes adding it a must)."""
    class Unlisted(exceptions.ServiceError):
        """An error nobody put in the table."""

    def fail():
        raise Unlisted("unlisted happened")

    app.add_url_rule("/unlisted", view_func=fail)
    response = app.test_client().get("/unlisted")
    assert response.status_code == 400
    assert response.get_json()["detail"] == "unlisted happened"
    assert "Retry-After" not in response.headers
