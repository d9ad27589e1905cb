"""ProgImage: store images over HTTP and serve them back in any format."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> Any:
    """``create_app``, from web/ on first use: importing the service, the pool or
    the CLI must not load Flask."""
    if name == "create_app":
        from .web import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
