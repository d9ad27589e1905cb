"""Storage and cache folders that cannot work stop the app at start, naming the
setting, instead of failing requests later."""

import pytest

from helpers import decode, make_image, upload
from progimage import create_app
from progimage.config import Settings, SettingsError


def test_storage_that_is_a_file_names_the_setting(tmp_path):
    """PROGIMAGE_STORAGE naming a file is a settings error, not a traceback."""
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(SettingsError, match="PROGIMAGE_STORAGE=.*is not a folder"):
        create_app(Settings(storage=str(tmp_path / "file")))


def test_storage_under_a_file_names_the_setting(tmp_path):
    """A file in the way higher up is reported the same way."""
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(SettingsError, match="PROGIMAGE_STORAGE=.*is not a folder"):
        create_app(Settings(storage=str(tmp_path / "file" / "data")))


def test_cache_that_is_a_file_names_the_setting(tmp_path):
    """PROGIMAGE_CACHE_DIR naming a file is refused at start too."""
    (tmp_path / "file").write_bytes(b"x")
    settings = Settings(
        storage=str(tmp_path / "data"), cache_dir=str(tmp_path / "file")
    )
    with pytest.raises(SettingsError, match="PROGIMAGE_CACHE_DIR=.*is not a folder"):
        create_app(settings)


@pytest.mark.parametrize("cache", [".", "ab", "ab/cd", ".incoming", "./x/.."])
def test_cache_among_the_originals_is_refused(tmp_path, cache):
    """The storage folder itself, a shard of it or its staging folder would mix
    variants with originals: refused at start."""
    storage = tmp_path / "data"
    settings = Settings(storage=str(storage), cache_dir=str(storage / cache))
    with pytest.raises(SettingsError, match="PROGIMAGE_CACHE_DIR=.*holds originals"):
        create_app(settings)


def test_cache_in_another_store_is_refused(tmp_path):
    """A folder that is another instance's store (it has its staging folder) is
    refused as a cache."""
    create_app(Settings(storage=str(tmp_path / "other"), cache_max_bytes=0))
    settings = Settings(
        storage=str(tmp_path / "data"), cache_dir=str(tmp_path / "other")
    )
    with pytest.raises(SettingsError, match="PROGIMAGE_CACHE_DIR=.*holds originals"):
        create_app(settings)


@pytest.mark.parametrize("cache", ["", ".variants", ".cache/variants", "../variants"])
def test_cache_apart_from_the_originals_works(tmp_path, cache):
    """The default ``.variants``, another dot-folder of the store and a folder
    beside it are accepted, and variants are served from them."""
    storage = tmp_path / "data"
    settings = Settings(
        storage=str(storage), cache_dir=str(storage / cache) if cache else ""
    )
    app = create_app(settings)
    client = app.test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    for _ in range(2):
        with client.get(f"/storage/{ref}.webp") as response:
            assert (response.status_code, response.mimetype) == (200, "image/webp")
            assert decode(response.data).size == (64, 48)
    app.extensions["progimage"].close()
    folder = storage / (cache or ".variants")
    assert [path for path in folder.rglob("*") if path.is_file()], "no variant kept"
