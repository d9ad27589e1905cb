"""The service on its own: what one request costs it."""

from progimage import service as service_module
from helpers import make_image, upload


def test_a_variant_key_is_worked_out_once_per_request(client, monkeypatch):
    """A conversion's key (cache and ETag) is computed once per request, not once
    for the ETag and again for the cache."""
    calls = []

    def counted(*args):
        calls.append(args)
        return real(*args)

    real = service_module.variant_key
    monkeypatch.setattr(service_module, "variant_key", counted)
    ref = upload(client, make_image()).get_data(as_text=True)
    assert client.get(f"/storage/{ref}.webp?w=10").status_code == 200
    assert len(calls) == 1
