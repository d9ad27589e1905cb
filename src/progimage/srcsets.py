"""Responsive images: the ``srcset`` candidates of a stored image for a list of
widths or a preset, bounded by the original's width, signed when signing is on."""

from dataclasses import dataclass
from urllib.parse import urlencode

from .config import Settings
from .exceptions import InvalidOptions
from .options import parse as parse_options
from .presets import PRESET, expand
from .signing import signed_query
from .sizes import restrict

WIDTHS = "widths"
#: The widths offered when neither ``widths``, the preset nor the allowed widths
#: give any: common layout widths up to a 2x large screen.
DEFAULT_WIDTHS = (320, 640, 960, 1280, 1920, 2560)
#: More candidates than this make a srcset no browser needs, and as many variants.
MAX_WIDTHS = 12


@dataclass(frozen=True)
class Candidate:
    """One entry of a ``srcset``: a query string and the width it gives."""

    query: str
    width: int


def candidates(
    query: dict[str, list[str]], settings: Settings, original_width: int,
    path: str, expires: int | None = None,
) -> list[Candidate]:
    """The candidates for ``path`` (``/storage/<ref>[.<ext>]``) with the options in
    ``query`` and each of its ``widths`` (else the preset's width and twice it, else
    the allowed widths, else ``DEFAULT_WIDTHS``), narrowest first.

    Widths above ``original_width`` give way to the original's width (unless
    allowed widths are set and it is not one: then they are left out), so no
    candidate is an enlargement. Each query is checked as a read of it would be,
    and signed with the first signing key (until ``expires``) when signed reads
    are on.

    :raises InvalidOptions: ``widths`` is malformed, an option is bad, the preset
        is unknown, PROGIMAGE_ONLY_PRESETS refuses the options, or a width is not
        an allowed one.
    """
    options = {name: values for name, values in query.items() if name != WIDTHS}
    if "w" in options:
        raise InvalidOptions(f"parameter 'w': give the widths as '{WIDTHS}'")
    asked = _asked(query.get(WIDTHS), options, settings)
    found: dict[int, Candidate] = {}
    for asked_width in _bounded(asked, original_width, settings):
        pairs = {name: values[0] for name, values in options.items()}
        pairs["w"] = str(asked_width)
        width = _checked({name: [value] for name, value in pairs.items()}, settings)
        found.setdefault(
            width, Candidate(_query(pairs, settings, path, expires), width)
        )
    return [found[width] for width in sorted(found)]


def _asked(given: list[str] | None, options: dict[str, list[str]],
           settings: Settings) -> list[int]:
    """The widths asked for, or the defaults in their absence.

    :raises InvalidOptions: ``widths`` is malformed or repeated.
    """
    if given is None:
        preset = settings.preset_table.get((options.get(PRESET) or [""])[0], {})
        if str(preset.get("w", "")).isdigit():
            return [int(preset["w"]), 2 * int(preset["w"])]
        allowed = settings.allowed_sizes.get("w")
        return [int(width) for width in allowed] if allowed else list(DEFAULT_WIDTHS)
    pieces = given[0].split(",") if len(given) == 1 else []
    if not pieces or not all(piece.strip().isdigit() for piece in pieces):
        raise InvalidOptions(
            f"parameter '{WIDTHS}' must be given once, as whole numbers separated "
            "by commas (widths=320,640,1280)"
        )
    widths = sorted({int(piece) for piece in pieces})
    if len(widths) > MAX_WIDTHS or widths[0] < 1:
        raise InvalidOptions(
            f"parameter '{WIDTHS}': from 1 to {MAX_WIDTHS} widths, each at least 1"
        )
    return widths


def _bounded(widths: list[int], original_width: int, settings: Settings) -> list[int]:
    """``widths`` with those above the original's replaced by it (left out when
    allowed widths are set and it is not one), at least one kept."""
    within = [width for width in widths if width <= original_width]
    if len(within) < len(widths):
        allowed = settings.allowed_sizes.get("w")
        if not allowed or original_width in allowed:
            within.append(original_width)
    return within or widths[:1]


def _checked(query: dict[str, list[str]], settings: Settings) -> int:
    """The width a read of ``query`` gives (snapped, if sizes snap).

    :raises InvalidOptions: the read would be refused.
    """
    expanded = expand(query, settings.preset_table, settings.only_presets)
    restricted = restrict(expanded, settings.allowed_sizes, settings.snap_sizes)
    parse_options(restricted)
    return int(float(restricted["w"][0]))


def _query(pairs: dict[str, str], settings: Settings, path: str,
           expires: int | None) -> str:
    """The query string of a candidate, signed when signed reads are on."""
    if settings.signed_reads == "off":
        return urlencode(pairs)
    return signed_query(settings.signature_keys[0], path, pairs, expires)
