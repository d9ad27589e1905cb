"""The variant cache: stored once, served from disk, bounded, purged with its image."""

import dataclasses
import logging
import os
import time

import pytest
from helpers import decode, make_image, upload

from progimage import create_app
from progimage import variants
from progimage.exceptions import ConversionTimedOut
from progimage.variants import VariantCache, variant_key

REF = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
OTHER = "1b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture(name="conversions")
def _conversions(caplog):
    """The service's "converted" log lines, to count real conversions."""
    caplog.set_level(logging.INFO, logger="progimage.service")
    return lambda: [r for r in caplog.records if r.getMessage().startswith("converted")]


def _age(path: os.PathLike[str], seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _total(cache: VariantCache) -> int:
    return int((cache.folder / ".size").read_bytes())


def test_second_request_is_served_from_the_cache(client, conversions):
    """The first GET of a variant converts; the next ones send the stored file."""
    ref = upload(client, make_image("JPEG")).get_data(as_text=True)
    bodies = []
    for _ in range(3):
        with client.get(f"/storage/{ref}.webp") as response:
            assert response.status_code == 200
            bodies.append(response.get_data())
    assert len(conversions()) == 1
    assert bodies[0] == bodies[1] == bodies[2]
    assert decode(bodies[2]).format == "WEBP"


def test_each_format_is_its_own_variant(client, conversions):
    """Two formats of one image are two conversions; .jpg and .jpeg are one."""
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    for ext in ("webp", "jpg", "jpeg", "webp"):
        with client.get(f"/storage/{ref}.{ext}") as response:
            assert response.status_code == 200
    assert len(conversions()) == 2


def test_cache_off_converts_every_time(settings, conversions):
    """With PROGIMAGE_CACHE_MAX_BYTES=0 every request converts and nothing is kept."""
    client = create_app(dataclasses.replace(settings, cache_max_bytes=0)).test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    for _ in range(2):
        with client.get(f"/storage/{ref}.webp") as response:
            assert decode(response.get_data()).format == "WEBP"
    assert len(conversions()) == 2
    assert not os.path.exists(os.path.join(settings.storage, ".variants"))


def test_cache_dir_setting_moves_the_cache(settings, tmp_path):
    """PROGIMAGE_CACHE_DIR puts variants in a folder of its own."""
    folder = tmp_path / "variants"
    app = create_app(dataclasses.replace(settings, cache_dir=str(folder)))
    ref = upload(app.test_client(), make_image("PNG")).get_data(as_text=True)
    with app.test_client().get(f"/storage/{ref}.gif") as response:
        assert response.status_code == 200
    assert len(list(folder.glob(f"{ref[:2]}/{ref}/*"))) == 1


def test_changed_encoder_settings_make_a_new_variant(settings, conversions):
    """Variants made with other encoder settings are not served as current."""
    first = create_app(settings)
    ref = upload(first.test_client(), make_image("PNG")).get_data(as_text=True)
    with first.test_client().get(f"/storage/{ref}.webp") as response:
        old_tag = response.headers["ETag"]
    second = create_app(dataclasses.replace(settings, webp_quality=20))
    with second.test_client().get(f"/storage/{ref}.webp") as response:
        assert response.headers["ETag"] != old_tag
    assert len(conversions()) == 2


def test_delete_purges_the_variants(app):
    """DELETE /storage/<ref> removes its cached variants (options included) and frees
    their bytes; the variants answer 404 afterwards."""
    client = app.test_client()
    ref = upload(client, make_image("PNG")).get_data(as_text=True)
    for path in (f"{ref}.webp", f"{ref}.png?w=8", f"{ref}?grayscale"):
        with client.get(f"/storage/{path}") as response:
            assert response.status_code == 200
    service = app.extensions["progimage"]
    assert len(list((service.cache.folder / ref[:2] / ref).iterdir())) == 3
    assert client.delete(f"/storage/{ref}").status_code == 204
    assert not (service.cache.folder / ref[:2] / ref).exists()
    assert _total(service.cache) == 0
    with client.get(f"/storage/{ref}.webp") as response:
        assert response.status_code == 404


@pytest.mark.parametrize("first, second, conversions_made", [
    ("png?w=10", "png?w=20", 2),
    ("png?w=10&dpr=2", "png?w=20", 1),
    ("jpg?q=50", "jpg?q=90", 2),
    ("png?rotate=-90", "png?rotate=270", 1),
    ("webp", "webp?lossless", 2),
])
def test_processing_options_are_part_of_the_key(
    client, conversions, first, second, conversions_made
):
    """Options that ask for the same result share one cached variant; others not."""
    ref = upload(client, make_image("PNG", size=(40, 30))).get_data(as_text=True)
    bodies = []
    for path in (first, second, first):
        with client.get(f"/storage/{ref}.{path}") as response:
            assert response.status_code == 200
            bodies.append(response.get_data())
    assert len(conversions()) == conversions_made
    assert bodies[0] == bodies[2]
    assert (bodies[0] == bodies[1]) == (conversions_made == 1)


def test_mask_reference_variant_is_cached(client, conversions):
    """A variant masked by another stored image converts once, then comes from disk."""
    ref = upload(client, make_image("PNG", size=(20, 20))).get_data(as_text=True)
    mask = upload(client, make_image("PNG", size=(20, 20))).get_data(as_text=True)
    for _ in range(2):
        with client.get(f"/storage/{ref}.png?mask={mask}") as response:
            assert response.status_code == 200
            assert decode(response.get_data()).mode in ("RGBA", "LA")
    assert len(conversions()) == 1


def test_put_then_open_gives_the_bytes(tmp_path):
    """A stored variant reads back whole; a missing one is None."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    assert cache.open(REF, "WEBP||") is None
    cache.put(REF, "WEBP||", b"x" * 10)
    with cache.open(REF, "WEBP||") as file:
        assert file.read() == b"x" * 10
    assert _total(cache) == 10


def test_least_recently_used_is_evicted_first(tmp_path):
    """Over the bound, the variants used longest ago go, down to 90% of it."""
    cache = VariantCache(tmp_path, max_bytes=350)
    for age, key in ((300, "a"), (200, "b"), (100, "c")):
        cache.put(REF, key, b"x" * 100)
        _age(cache.path(REF, key), age)
    with cache.open(REF, "a"):
        pass  # a hit makes "a" the most recent
    cache.put(REF, "d", b"x" * 100)
    kept = {key for key in "abcd" if cache.path(REF, key).exists()}
    assert kept == {"a", "c", "d"}
    assert _total(cache) == 300


def test_variant_larger_than_the_cache_is_not_kept(tmp_path):
    """A variant bigger than the whole bound is served but never stored."""
    cache = VariantCache(tmp_path, max_bytes=50)
    cache.put(REF, "big", b"x" * 51)
    assert cache.open(REF, "big") is None
    assert _total(cache) == 0


def test_total_is_recounted_at_start(tmp_path):
    """A new process counts what is on disk, whatever the old counter said."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    cache.put(REF, "a", b"x" * 40)
    cache.put(OTHER, "a", b"x" * 2)
    (tmp_path / ".size").write_bytes(b"999")
    assert _total(VariantCache(tmp_path, max_bytes=1000)) == 42


def test_abandoned_temporary_files_are_removed(tmp_path):
    """Half-written files of a crashed writer go at the next eviction scan."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    cache.put(REF, "a", b"x" * 10)
    fresh = cache.path(REF, "a").with_name(".fresh")
    stale = cache.path(REF, "a").with_name(".stale")
    fresh.write_bytes(b"y")
    stale.write_bytes(b"y")
    _age(stale, 7200)
    assert _total(VariantCache(tmp_path, max_bytes=1000)) == 10
    assert fresh.exists() and not stale.exists()


def test_purge_of_unknown_reference_is_harmless(tmp_path):
    """Purging an image that has no variants changes nothing."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    cache.put(REF, "a", b"x" * 10)
    cache.purge(OTHER)
    assert _total(cache) == 10


def test_variant_key_names_format_encoder_and_options():
    """The key changes with any of the three parts."""
    keys = {
        variant_key("WEBP", {}),
        variant_key("PNG", {}),
        variant_key("WEBP", {"quality": 80}),
        variant_key("WEBP", {}, "w=100"),
    }
    assert len(keys) == 4


def test_purge_leaves_a_write_in_progress_out_of_the_total(tmp_path):
    """A temporary file being written was never counted: purging its folder takes
    away the variants' bytes only, so the bound still holds for what remains."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    cache.put(REF, "a", b"x" * 10)
    cache.put(OTHER, "a", b"x" * 5)
    cache.path(REF, "a").with_name(".writing").write_bytes(b"y" * 7)
    cache.purge(REF)
    assert _total(cache) == 5


def test_eviction_stops_as_soon_as_the_low_water_mark_is_reached(tmp_path):
    """Down to 90% of the bound and no further: a variant that fits stays."""
    cache = VariantCache(tmp_path, max_bytes=100)
    for age, key, size in ((300, "a", 20), (200, "b", 35), (100, "c", 35)):
        cache.put(REF, key, b"x" * size)
        _age(cache.path(REF, key), age)
    cache.put(REF, "d", b"x" * 20)  # 110 bytes: "a" goes, leaving exactly 90
    kept = {key for key in "abcd" if cache.path(REF, key).exists()}
    assert kept == {"b", "c", "d"}
    assert _total(cache) == 90


def test_gc_lists_the_cached_images_and_removes_only_old_leftovers(tmp_path):
    """``progimage gc``: the images with variants; temporary files and purged folders
    go once older than the age asked for, the variants never."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    cache.put(REF, "a", b"x" * 10)
    cache.put(OTHER, "b", b"x" * 10)
    leftover = cache.path(REF, "a").with_name(".writing")
    leftover.write_bytes(b"y")
    purged = tmp_path / ".trash" / "0123abcd"
    purged.mkdir()
    (purged / "variant").write_bytes(b"z")
    assert sorted(cache.refs()) == [REF, OTHER]
    assert cache.remove_abandoned(3600) == 0
    assert leftover.exists() and purged.exists()
    assert cache.remove_abandoned(-60) == 2  # everything is older than the future
    assert not leftover.exists() and not purged.exists()
    with cache.open(REF, "a") as first, cache.open(OTHER, "b") as second:
        assert first.read() + second.read() == b"x" * 20


def test_a_held_variant_lock_times_out_and_a_free_one_is_taken(tmp_path):
    """A second conversion of one variant waits for the first; once its deadline
    has passed it answers timed out, and the lock is taken again once free."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    past = time.monotonic() - 1
    with cache.lock(REF, "a", time.monotonic() + 60):
        with pytest.raises(ConversionTimedOut) as waited:
            with cache.lock(REF, "a", past):
                pass
    assert waited.value.detail == (
        "another request's conversion of this variant ran until the time limit; "
        "try again later"
    )
    with cache.lock(REF, "a", past):
        pass


def test_a_held_variant_lock_is_waited_for_until_it_is_freed(tmp_path, monkeypatch):
    """With time left, the second conversion waits: the first one finishing (here,
    during the wait's first pause) lets it go on instead of answering 503."""
    cache = VariantCache(tmp_path, max_bytes=1000)
    first = cache.lock(REF, "a", time.monotonic() + 60)
    first.__enter__()
    pauses = []

    class FirstFinishesDuringThePause:
        def __getattr__(self, name):
            return getattr(time, name)

        def sleep(self, seconds):
            pauses.append(seconds)
            first.__exit__(None, None, None)

    monkeypatch.setattr(variants, "time", FirstFinishesDuringThePause())
    with cache.lock(REF, "a", time.monotonic() + 60):
        assert pauses == [0.02]  # one poll interval, far from the deadline
