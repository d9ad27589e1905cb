"""Format negotiation for ``<ref>.auto``: the best format the client's Accept takes.

A format counts as wanted only when the Accept header names its type: ``*/*`` and
``image/*`` vouch for the universal format alone (JPEG, PNG for images with
transparency, GIF for animations), since a client that names nothing may be one
that cannot show AVIF or WebP. Among the named formats the highest q-value wins,
ties going to the earlier one in ``PROGIMAGE_AUTO_FORMATS``.
"""

from collections.abc import Iterable

from .exceptions import NotAcceptable
from .imaging import FormatRegistry
from .storage import ImageRecord

#: The extension that asks for negotiation.
AUTO = "auto"
#: Formats an animation may be sent as. AVIF is left out: Pillow encodes animated
#: AVIF many times slower than WebP, too slow for a request.
ANIMATION_FORMATS = ("webp", "gif")


def candidates(record: ImageRecord, preferred: Iterable[str]) -> list[str]:
    """The extensions ``record`` may be sent as, best first; the last one is the
    universal format, which any image client shows."""
    order = [extension for extension in preferred]
    if record.frames > 1:
        universal = "gif"
        order = [extension for extension in order if extension in ANIMATION_FORMATS]
    elif record.has_alpha:
        # JPEG would flatten the transparency: PNG takes its place.
        universal = "png"
        order = ["png" if extension == "jpeg" else extension for extension in order]
    else:
        universal = "jpeg"
    order = [extension for extension in order if extension != universal]
    return [*dict.fromkeys(order), universal]


def choose(
    record: ImageRecord,
    preferred: Iterable[str],
    accept: Iterable[tuple[str, float]],
    formats: FormatRegistry,
) -> str:
    """The extension to send ``record`` as, for a client whose Accept header lists
    ``accept`` (media range, q-value), trying ``preferred`` extensions in order.

    :raises NotAcceptable: the client takes none of the candidates.
    """
    # No Accept header takes anything (RFC 9110, 12.5.1): the universal format.
    ranges = [(value.lower(), quality) for value, quality in accept] or [("*/*", 1)]
    offered = candidates(record, preferred)
    best, best_quality = "", 0.0
    for position, extension in enumerate(offered):
        mime = formats.for_extension(extension).mime
        universal = position == len(offered) - 1
        quality = _quality(ranges, mime, wildcards=universal)
        if quality > best_quality:
            best, best_quality = extension, quality
    if not best:
        mimes = ", ".join(formats.for_extension(e).mime for e in offered)
        raise NotAcceptable(
            f"this image is offered as {mimes}; the Accept header takes none of them"
        )
    return best


def _quality(ranges: list[tuple[str, float]], mime: str, wildcards: bool) -> float:
    """The q-value the client gives ``mime``: from the range naming it, else (when
    ``wildcards``) from ``image/*``, else from ``*/*``; 0 when none applies."""
    wanted = (mime, "image/*", "*/*") if wildcards else (mime,)
    for media_range in wanted:
        for value, quality in ranges:
            if value == media_range:
                return quality
    return 0.0
