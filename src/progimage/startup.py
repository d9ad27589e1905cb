"""The settings checked once at start-up, before gunicorn forks its workers."""

import os
from collections.abc import Mapping

from .config import Settings, SettingsError
from .storage import make_storage
from .variants import make_cache


def settings_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """What is wrong with the ``PROGIMAGE_*`` settings in ``environ`` (a value that
    does not parse, a missing bucket), in one line; None if nothing is.

    The app checks the same when it is built, but in every worker, each printing a
    traceback around the one useful line.
    """
    try:
        settings = Settings.from_env(environ)
        make_storage(settings.storage, settings.s3_endpoint)
        make_cache(settings)
    except SettingsError as error:
        return str(error)
    return None
