"""Settings from defaults and PROGIMAGE_* environment variables."""

import pytest

from progimage import create_app
from progimage.config import Settings, SettingsError


def test_defaults():
    """Without variables: ./data, 50 MiB uploads, 50 megapixels."""
    settings = Settings.from_env({})
    assert settings.storage == "./data"
    assert settings.max_upload_bytes == 50 * 1024 * 1024
    assert settings.max_pixels == 50_000_000


def test_environment_overrides():
    """PROGIMAGE_<NAME> variables override the defaults."""
    settings = Settings.from_env({
        "PROGIMAGE_STORAGE": "/srv/images",
        "PROGIMAGE_MAX_UPLOAD_BYTES": "1_000",
        "PROGIMAGE_MAX_PIXELS": "42",
    })
    assert (settings.storage, settings.max_upload_bytes, settings.max_pixels) == (
        "/srv/images", 1000, 42,
    )


@pytest.mark.parametrize("environ, message", [
    ({"PROGIMAGE_MAX_PIXELS": "lots"}, "must be a whole number"),
    ({"PROGIMAGE_MAX_PIXELS": "0"}, "must be positive"),
    ({"PROGIMAGE_MAX_UPLOAD_BYTES": "-1"}, "must be positive"),
    ({"PROGIMAGE_STORAGE": ""}, "must not be empty"),
    ({"PROGIMAGE_AUTO_FORMATS": "avif,bmp"}, "PROGIMAGE_AUTO_FORMATS must list some"),
    ({"PROGIMAGE_AUTO_FORMATS": " , "}, "PROGIMAGE_AUTO_FORMATS must list some"),
])
def test_bad_values_fail_at_startup(environ, message):
    """A bad value stops the app from starting, naming the variable."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_app_reads_the_environment(tmp_path, monkeypatch):
    """create_app() without settings reads PROGIMAGE_* variables."""
    monkeypatch.setenv("PROGIMAGE_STORAGE", str(tmp_path / "from-env"))
    app = create_app()
    assert app.extensions["progimage"].settings.storage == str(tmp_path / "from-env")
    assert (tmp_path / "from-env").is_dir()
