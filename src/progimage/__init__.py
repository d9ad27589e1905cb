"""ProgImage: store images over HTTP and serve them back in any format."""

from .web import create_app

__version__ = "0.1.0"

__all__ = ["__version__", "create_app"]
