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
    ({"PROGIMAGE_PRESETS": "thumb=w:0"},
     "^PROGIMAGE_PRESETS: preset 'thumb': parameter 'w': must be a whole number"),
    ({"PROGIMAGE_PRESETS": "thumb"},
     "^PROGIMAGE_PRESETS: 'thumb' is not name=parameter:value"),
    ({"PROGIMAGE_PRESETS": "thumb=size:9"},
     "^PROGIMAGE_PRESETS: preset 'thumb': unknown parameter 'size'"),
    ({"PROGIMAGE_PRESETS": "a=w:1;a=h:2"}, "^PROGIMAGE_PRESETS: preset 'a' is defined"),
    ({"PROGIMAGE_PRESETS": "a b=w:1"}, "^PROGIMAGE_PRESETS: preset name 'a b' must"),
    ({"PROGIMAGE_PRESETS_FILE": "/nonexistent.toml"},
     "^PROGIMAGE_PRESETS_FILE: cannot read /nonexistent.toml"),
    ({"PROGIMAGE_ONLY_PRESETS": "1"}, "PROGIMAGE_ONLY_PRESETS needs PROGIMAGE_PRESETS"),
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


def test_presets_are_read_from_the_setting_and_a_toml_file(tmp_path):
    """Both sources together; commas stay in values that have them (crop)."""
    file = tmp_path / "presets.toml"
    file.write_text('[hero]\nw = 1600\nq = 70\n[gray]\ngrayscale = true\n')
    settings = Settings.from_env({
        "PROGIMAGE_PRESETS": "thumb=w:256,h:256,fit:cover; cut=crop:0,0,10,8,w:5",
        "PROGIMAGE_PRESETS_FILE": str(file),
    })
    assert settings.preset_table == {
        "thumb": {"w": "256", "h": "256", "fit": "cover"},
        "cut": {"crop": "0,0,10,8", "w": "5"},
        "hero": {"w": "1600", "q": "70"},
        "gray": {"grayscale": "1"},
    }


def test_a_preset_in_both_sources_or_a_bad_file_stops_the_start(tmp_path):
    """One name twice, or a file that is not TOML: the file's setting is named."""
    file = tmp_path / "presets.toml"
    file.write_text("[thumb]\nw = 100\n")
    environ = {"PROGIMAGE_PRESETS": "thumb=w:256", "PROGIMAGE_PRESETS_FILE": str(file)}
    with pytest.raises(SettingsError, match="^PROGIMAGE_PRESETS_FILE: preset 'thumb' "
                       "is defined twice$"):
        Settings.from_env(environ)
    file.write_text("thumb = [")
    with pytest.raises(SettingsError, match="^PROGIMAGE_PRESETS_FILE: cannot read"):
        Settings.from_env({"PROGIMAGE_PRESETS_FILE": str(file)})
