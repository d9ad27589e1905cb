"""What the scale-out tests add to live_servers: deploy/nginx-scaleout.conf in front
of given instances (and, re-exported, moto's S3 server)."""

from live_servers import CREDENTIALS, ROOT, moto_server  # noqa: F401


def scaleout_site(ports: list[int]) -> str:
    """deploy/nginx-scaleout.conf in front of the instances on two loopback ports."""
    site = (ROOT / "deploy" / "nginx-scaleout.conf").read_text()
    for default, actual in zip(("8001", "8002"), ports, strict=True):
        site = site.replace(f"127.0.0.1:{default}", f"127.0.0.1:{actual}")
    return site
