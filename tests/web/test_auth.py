"""API keys: uploads need a key when keys are set; reads only with private reads."""

import io

import pytest

from helpers import decode, make_image, upload
from progimage import create_app
from progimage.config import Settings, SettingsError


@pytest.fixture(name="keyed")
def _keyed(tmp_path):
    """A factory of test clients for apps with the keys 'alpha' and 'beta'."""
    apps = []

    def make(private_reads: bool = False):
        app = create_app(Settings(
            storage=str(tmp_path / "data"), api_keys="alpha, beta",
            private_reads=private_reads,
        ))
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["progimage"].close()


def put(client, headers: dict[str, str]):
    """Upload a small PNG with the given headers."""
    return client.put(
        "/storage/", headers=headers, content_type="multipart/form-data",
        data={"data": (io.BytesIO(make_image()), "a.png")},
    )


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": ""}, {"Authorization": "Bearer "},
    {"Authorization": "Basic YWxwaGE6"}, {"Authorization": "alpha"},
])
def test_upload_without_bearer_key_is_401(keyed, headers):
    """Without a bearer key an upload answers 401 with a Bearer challenge."""
    response = put(keyed(), headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["detail"] == (
        "this needs an API key: send 'Authorization: Bearer <key>'")


@pytest.mark.parametrize("key", ["gamma", "alph", "alphaa", "ALPHA", "alpha,beta"])
def test_upload_with_wrong_key_is_403(keyed, key):
    """A key that is not configured answers 403."""
    response = put(keyed(), {"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert response.get_json()["detail"] == "the API key is not valid"


@pytest.mark.parametrize("header", ["Bearer alpha", "Bearer beta", "bearer  beta"])
def test_upload_with_a_configured_key_is_stored(keyed, header):
    """Any configured key works, whatever the scheme's letter case."""
    client = keyed()
    response = put(client, {"Authorization": header})
    assert response.status_code == 200
    with client.get(f"/storage/{response.get_data(as_text=True)}") as stored:
        assert stored.data == make_image()


def test_reads_stay_open_by_default(keyed):
    """With keys but without private reads, anyone can read an image."""
    client = keyed()
    ref = put(client, {"Authorization": "Bearer alpha"}).get_data(as_text=True)
    with client.get(f"/storage/{ref}") as response:
        assert (response.status_code, response.data) == (200, make_image())


@pytest.mark.parametrize("headers, status", [
    ({}, 401), ({"Authorization": "Bearer nope"}, 403),
    ({"Authorization": "Bearer beta"}, 200),
])
def test_private_reads_need_a_key(keyed, headers, status):
    """With PROGIMAGE_PRIVATE_READS=1, reading needs a valid key too."""
    client = keyed(private_reads=True)
    ref = put(client, {"Authorization": "Bearer alpha"}).get_data(as_text=True)
    for path, kind in ((f"/storage/{ref}", "image/png"),
                       (f"/storage/{ref}.webp", "image/webp")):
        with client.get(path, headers=headers) as response:
            assert response.status_code == status
            if status == 200:
                assert response.mimetype == kind
                assert decode(response.data).size == (64, 48)


def test_no_keys_means_open_uploads(client):
    """Without PROGIMAGE_API_KEYS, uploads need no key."""
    response = upload(client, make_image())
    assert response.status_code == 200
    with client.get(f"/storage/{response.get_data(as_text=True)}") as stored:
        assert stored.data == make_image()


def test_private_reads_without_keys_fail_at_startup(tmp_path):
    """Private reads with no key configured is a configuration error."""
    with pytest.raises(SettingsError, match="PROGIMAGE_API_KEYS"):
        Settings(storage=str(tmp_path), private_reads=True)


@pytest.mark.parametrize("raw, expected", [("1", True), ("0", False), ("true", True)])
def test_private_reads_parse_from_env(raw, expected):
    """PROGIMAGE_PRIVATE_READS reads 1/0 (and true/false)."""
    settings = Settings.from_env(
        {"PROGIMAGE_PRIVATE_READS": raw, "PROGIMAGE_API_KEYS": "k"}
    )
    assert settings.private_reads is expected
    assert settings.keys == ("k",)


@pytest.mark.parametrize("name, raw", [
    ("PROGIMAGE_PRIVATE_READS", "maybe"), ("PROGIMAGE_CONVERT_TIMEOUT", "soon"),
    ("PROGIMAGE_CONVERT_TIMEOUT", "0"), ("PROGIMAGE_MAX_PIXELS", "many"),
])
def test_bad_settings_fail_at_startup(name, raw):
    """A setting that does not parse, or is not positive, stops the start."""
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: raw})


@pytest.mark.parametrize("headers, status", [
    ({}, 401), ({"Authorization": "Bearer nope"}, 403),
    ({"Authorization": "Bearer beta"}, 204),
])
def test_delete_needs_a_writer_key(keyed, headers, status):
    """DELETE is a write: without a valid key the image stays."""
    client = keyed()
    ref = put(client, {"Authorization": "Bearer alpha"}).get_data(as_text=True)
    assert client.delete(f"/storage/{ref}", headers=headers).status_code == status
    with client.get(f"/storage/{ref}") as response:
        assert response.status_code == (404 if status == 204 else 200)
        if status != 204:
            assert response.data == make_image()


@pytest.mark.parametrize("private_reads, headers, status", [
    (False, {}, 200), (True, {}, 401), (True, {"Authorization": "Bearer x"}, 403),
    (True, {"Authorization": "Bearer beta"}, 200),
])
def test_info_is_a_read(keyed, private_reads, headers, status):
    """GET /storage/<ref>/info is open unless reads are private."""
    client = keyed(private_reads=private_reads)
    ref = put(client, {"Authorization": "Bearer alpha"}).get_data(as_text=True)
    response = client.get(f"/storage/{ref}/info", headers=headers)
    assert response.status_code == status
    if status == 200:
        info = response.get_json()
        assert (info["format"], info["width"], info["height"]) == ("PNG", 64, 48)


@pytest.mark.parametrize("headers, status", [
    ({}, 401), ({"Authorization": "Bearer nope"}, 403),
    ({"Authorization": "Bearer alpha"}, 200),
])
def test_batch_upload_needs_a_key(keyed, headers, status):
    """A batch (several data fields) is an upload like any other."""
    response = keyed().put(
        "/storage/", headers=headers, content_type="multipart/form-data",
        data={"data": [(io.BytesIO(make_image()), "a.png"),
                       (io.BytesIO(make_image("JPEG")), "b.jpg")]},
    )
    assert response.status_code == status
    if status == 200:
        assert len(response.get_json()) == 2
