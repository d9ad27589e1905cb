"""DELETE /storage/<ref>/variants: every cached variant goes, locally and in the
shared bucket; the original stays and later reads convert again, same ETag."""

from dataclasses import replace

from helpers import decode, make_image, upload


def misses(app) -> float:
    counter = app.extensions["progimage"].metrics.cache_misses
    return counter.labels(target="WEBP")._value.get()


def test_purged_variants_convert_again_with_the_same_etag(app, client):
    ref = upload(client, make_image("PNG", size=(64, 48))).get_data(as_text=True)
    with client.get(f"/storage/{ref}.webp?w=32") as first:
        etag = first.headers["ETag"]
    client.get(f"/storage/{ref}.webp?w=32").close()
    assert misses(app) == 1
    assert client.delete(f"/storage/{ref}/variants").status_code == 204
    again = client.get(f"/storage/{ref}.webp?w=32")
    assert misses(app) == 2
    assert again.headers["ETag"] == etag
    assert decode(again.data).size == (32, 24)
    with client.get(f"/storage/{ref}") as original:
        assert original.status_code == 200


def test_purging_an_unknown_image_is_404(client):
    response = client.delete("/storage/0b6f1c1e-5d8a-4c47-9a5e-6f1d2f6b3c2a/variants")
    assert response.status_code == 404


def test_only_writers_purge(app_factory, settings):
    keyed = app_factory(replace(settings, api_keys="alpha")).test_client()
    headers = {"Authorization": "Bearer alpha"}
    ref = upload(keyed, make_image(), headers=headers).get_data(as_text=True)
    assert keyed.delete(f"/storage/{ref}/variants").status_code == 401
    assert keyed.delete(f"/storage/{ref}/variants",
                        headers={"Authorization": "Bearer beta"}).status_code == 403
    assert keyed.delete(f"/storage/{ref}/variants", headers=headers).status_code == 204


def test_purge_reaches_the_shared_bucket(app_factory, settings, s3_bucket, tmp_path):
    """Another instance (its own local folder, the same bucket) converts again."""
    shared = replace(settings, cache_bucket=f"s3://{s3_bucket}/variants")
    first = app_factory(replace(shared, cache_dir=str(tmp_path / "one")))
    second = app_factory(replace(shared, cache_dir=str(tmp_path / "two")))
    client = first.test_client()
    ref = upload(client, make_image("PNG", size=(64, 48))).get_data(as_text=True)
    client.get(f"/storage/{ref}.webp?w=32").close()
    assert client.delete(f"/storage/{ref}/variants").status_code == 204
    second.test_client().get(f"/storage/{ref}.webp?w=32").close()
    assert misses(second) == 1
