"""Settings: defaults, overlaid by ``PROGIMAGE_*`` environment variables."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property

from limits import parse_many

from .eager import EagerError, parse_eager
from .presets import Presets, PresetError, combine, load_file, parse_presets

MIB = 1024 * 1024
LOG_FORMATS = ("text", "json")
# Formats PROGIMAGE_AUTO_FORMATS may list (by extension).
AUTO_FORMAT_CHOICES = ("avif", "webp", "jpeg", "png", "gif")
SIGNED_READS = ("off", "variants", "all")
RATE_LIMIT_STORAGES = ("memory://", "redis://", "rediss://", "redis+unix://")


# Settings with a bounded range: (name, lowest, highest).
RANGES = (
    ("cache_max_bytes", 0, 2**62),
    ("convert_queue", -1, 10_000),
    ("convert_idle", 0, 86_400),
    ("trusted_proxies", 0, 10),
    ("jpeg_quality", 1, 95),
    ("png_compress_level", 0, 9),
    ("webp_quality", 0, 100),
    ("webp_method", 0, 6),
    ("avif_quality", 0, 100),
    ("avif_speed", 0, 10),
    ("heif_quality", 0, 100),
)
# x265's presets, fastest first: what PROGIMAGE_HEIF_PRESET may name.
HEIF_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                "slow", "slower", "veryslow", "placebo")
BOOLEANS = {
    "1": True, "true": True, "yes": True, "0": False, "false": False, "no": False,
}


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with, validated on creation."""

    # Where originals live: a folder path (created if missing), or
    # s3://bucket/optional/prefix for an S3-compatible bucket shared by instances.
    storage: str = "./data"
    # S3 endpoint URL for MinIO, Ceph and the like; empty: AWS_ENDPOINT_URL or AWS.
    s3_endpoint: str = ""
    # Largest accepted upload body, in bytes; larger ones answer 413.
    max_upload_bytes: int = 50 * MIB
    # Largest accepted image, in pixels (width x height x frames); larger answer 422.
    max_pixels: int = 50_000_000
    # Converted variants kept on disk, in bytes (least recently used go first); 0: off.
    cache_max_bytes: int = 1024 * MIB
    # Folder of the variant cache (on local disk); empty: ``.variants`` inside the
    # storage folder, or ``progimage-cache`` in the temporary folder for S3.
    cache_dir: str = ""
    # s3://bucket/prefix where variants are also kept, so that instances share their
    # conversions; empty: the storage's bucket when originals are in S3; "off": none.
    cache_bucket: str = ""
    # nginx internal location prefix; when set, files are handed over X-Accel-Redirect.
    accel_redirect: str = ""
    # Encoder settings (see encoding.py for why these defaults).
    jpeg_quality: int = 85
    jpeg_optimize: bool = False
    jpeg_progressive: bool = False
    png_compress_level: int = 3
    webp_quality: int = 80
    webp_method: int = 2
    # AVIF quality and speed (0-10, higher is faster): see docs/benchmarks.md.
    avif_quality: int = 60
    avif_speed: int = 8
    # HEIF quality and x265 preset (speed): see docs/benchmarks.md.
    heif_quality: int = 45
    heif_preset: str = "fast"
    # Seconds a conversion may run before it is stopped and answers 503.
    convert_timeout: float = 30.0
    # Converter processes per server process (conversions run outside the server).
    convert_workers: int = 2
    # Seconds a converter process may sit idle before it exits (memory back); 0: never.
    convert_idle: float = 300.0
    # Conversions that may wait for a converter in a server process; more answer 503
    # at once. -1: as many as there are converters.
    convert_queue: int = -1
    # Comma-separated API keys; when set, uploads need "Authorization: Bearer <key>".
    api_keys: str = ""
    # With API keys set, also require a key to read images (1) or not (0).
    private_reads: bool = False
    # Comma-separated keys that sign image URLs: the first signs, all verify (rotation).
    signing_keys: str = ""
    # Which reads need a valid ?sig=: "variants" (conversions), "all", or "off".
    signed_reads: str = "off"
    # With signed reads, let a request whose only option is ?preset= go unsigned (1).
    unsigned_presets: bool = False
    # Comma-separated widths, heights and pixel ratios (dpr) a request may ask for;
    # empty: any. Others answer 400, or with PROGIMAGE_SNAP_SIZES=1 the nearest is used.
    allowed_widths: str = ""
    allowed_heights: str = ""
    allowed_dpr: str = ""
    snap_sizes: bool = False
    # Proxies in front that set X-Forwarded-For/-Proto/-Host (nginx: 1); their
    # values are then trusted for the client's address. 0: none, the socket's peer.
    trusted_proxies: int = 0
    # Requests one client (API key, else address) may make, as "100/minute" (several:
    # "10/second;500/hour"), for uploads, conversions (cache misses) and reads;
    # empty: any.
    rate_limit_uploads: str = ""
    rate_limit_conversions: str = ""
    rate_limit_reads: str = ""
    # Where the counts live: memory:// (each server process its own), or redis://host
    # so that every instance shares them.
    rate_limit_storage: str = "memory://"
    # Comma-separated origins allowed to call the API from browsers ("*" for any).
    cors_origins: str = ""
    # Log lines (one per request, plus errors) as "text" or as "json" objects.
    log_format: str = "text"
    # Read EPS/PostScript uploads (1) with Ghostscript, in the converter processes,
    # or refuse them (0): PostScript is a program, not an image (see docs/security.md).
    postscript: bool = False
    # Formats <ref>.auto may answer, best first, by extension (see docs/processing.md).
    auto_formats: str = "avif,webp,jpeg"
    # <ref>.auto answers a short-lived 302 to the chosen format's URL (1), for CDNs
    # that ignore Vary: Accept, instead of the image itself (0).
    auto_redirect: bool = False
    # Named option sets for ?preset=<name>: "thumb=w:256,h:256,fit:cover;hero=w:1600".
    presets: str = ""
    # A TOML file of more presets, one table each ([thumb] w = 256 ...); empty: none.
    presets_file: str = ""
    # Refuse every query parameter but ?preset= (1): no client mints new variants.
    only_presets: bool = False
    # Comma-separated host patterns (*.example.com, 10.0.0.0/8) that POST /storage/
    # url= may fetch from; empty: any public address. The only way to allow a
    # private one.
    fetch_allowed_hosts: str = ""
    # Seconds a fetch by URL may take in all (redirects included); longer answer 504.
    fetch_timeout: float = 10.0
    # Seconds to open each connection of a fetch by URL.
    fetch_connect_timeout: float = 3.0
    # POST /storage/bulk: at most this many entries in one request (more answer 400),
    # and at most this many bytes of images in its ZIP (the rest are listed, not sent).
    bulk_max_entries: int = 500
    bulk_max_bytes: int = 512 * MIB
    # Presets converted right after every upload, in the background, so the first
    # reader hits the cache: "thumb.webp,hero.avif" (or "thumb": the original's format).
    eager_presets: str = ""

    def __post_init__(self) -> None:
        if not self.storage:
            raise SettingsError("PROGIMAGE_STORAGE must not be empty")
        self._check_choices()
        for name in ("max_upload_bytes", "max_pixels", "convert_timeout",
                     "convert_workers", "fetch_timeout", "fetch_connect_timeout",
                     "bulk_max_entries", "bulk_max_bytes"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"PROGIMAGE_{name.upper()} must be positive")
        for name, low, high in RANGES:
            if not low <= getattr(self, name) <= high:
                raise SettingsError(
                    f"PROGIMAGE_{name.upper()} must be between {low} and {high}"
                )
        if self.cache_bucket not in ("", "off") and not self.cache_bucket.startswith(
            "s3://"
        ):
            raise SettingsError(
                "PROGIMAGE_CACHE_BUCKET must be s3://bucket/optional/prefix or off"
            )
        if self.accel_redirect and not self.accel_redirect.startswith("/"):
            raise SettingsError("PROGIMAGE_ACCEL_REDIRECT must start with '/'")
        self._check_auto_formats()
        self._check_presets()
        if self.private_reads and not self.keys:
            raise SettingsError("PROGIMAGE_PRIVATE_READS needs PROGIMAGE_API_KEYS")
        self._check_signing()
        self._check_sizes()
        self._check_rate_limits()

    def _check_rate_limits(self) -> None:
        """:raises SettingsError: a limit does not parse, or the storage is neither
        memory nor Redis."""
        for kind, text in self.rate_limits.items():
            try:
                parse_many(text)
            except ValueError:
                raise SettingsError(
                    f"PROGIMAGE_RATE_LIMIT_{kind.upper()} must be like 100/minute "
                    f"(several separated by ';'), not {text!r}"
                ) from None
        if not self.rate_limit_storage.startswith(RATE_LIMIT_STORAGES):
            raise SettingsError(
                "PROGIMAGE_RATE_LIMIT_STORAGE must be memory:// or redis://host:port, "
                f"not {self.rate_limit_storage!r}"
            )

    def _check_sizes(self) -> None:
        """:raises SettingsError: an allowed-size list is not positive numbers."""
        for name in ("allowed_widths", "allowed_heights", "allowed_dpr"):
            _numbers(f"PROGIMAGE_{name.upper()}", getattr(self, name))

    def _check_signing(self) -> None:
        """:raises SettingsError: signed reads are unknown, or on without keys."""
        if self.signed_reads not in SIGNED_READS:
            raise SettingsError(
                f"PROGIMAGE_SIGNED_READS must be one of {', '.join(SIGNED_READS)}, "
                f"not {self.signed_reads!r}"
            )
        if self.signed_reads != "off" and not self.signature_keys:
            raise SettingsError("PROGIMAGE_SIGNED_READS needs PROGIMAGE_SIGNING_KEYS")

    def _check_choices(self) -> None:
        """:raises SettingsError: a setting with a fixed set of values has another."""
        for name, choices in (("log_format", LOG_FORMATS),
                              ("heif_preset", HEIF_PRESETS)):
            if getattr(self, name) not in choices:
                raise SettingsError(
                    f"PROGIMAGE_{name.upper()} must be one of {', '.join(choices)}, "
                    f"not {getattr(self, name)!r}"
                )

    def _check_auto_formats(self) -> None:
        """:raises SettingsError: PROGIMAGE_AUTO_FORMATS is empty or names a format
        that negotiation does not offer."""
        unknown = set(self.auto_format_order) - set(AUTO_FORMAT_CHOICES)
        if unknown or not self.auto_format_order:
            raise SettingsError(
                f"PROGIMAGE_AUTO_FORMATS must list some of "
                f"{', '.join(AUTO_FORMAT_CHOICES)}, not {self.auto_formats!r}"
            )

    def _check_presets(self) -> None:
        """:raises SettingsError: a preset is malformed or invalid, or presets are
        required and none is defined."""
        defined = self.preset_table  # parsed here, so that a bad one stops the start
        self.eager_variants  # noqa: B018 - the same for the eager presets
        if self.only_presets and not defined:
            raise SettingsError(
                "PROGIMAGE_ONLY_PRESETS needs PROGIMAGE_PRESETS or "
                "PROGIMAGE_PRESETS_FILE"
            )

    @cached_property
    def eager_variants(self) -> tuple[str, ...]:
        """PROGIMAGE_EAGER_PRESETS as a list; checked when the settings are made.

        :raises SettingsError: one names no preset, or a malformed extension.
        """
        try:
            return parse_eager(self.eager_presets, self.preset_table)
        except EagerError as error:
            raise SettingsError(f"PROGIMAGE_EAGER_PRESETS: {error}") from None

    @cached_property
    def preset_table(self) -> Presets:
        """The presets of PROGIMAGE_PRESETS and PROGIMAGE_PRESETS_FILE, by name;
        parsed once, when the settings are made.

        :raises SettingsError: a definition is bad, or both define one name.
        """
        setting = "PROGIMAGE_PRESETS"
        try:
            presets = parse_presets(self.presets)
            setting = "PROGIMAGE_PRESETS_FILE"
            from_file = load_file(self.presets_file) if self.presets_file else {}
            return combine(presets, from_file)
        except PresetError as error:
            raise SettingsError(f"{setting}: {error}") from None

    @property
    def convert_waiting(self) -> int:
        """Conversions that may wait for a converter per server process."""
        return self.convert_workers if self.convert_queue == -1 else self.convert_queue

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The API keys, without blanks; empty when the API is open."""
        return _split(self.api_keys)

    @cached_property
    def auto_format_order(self) -> tuple[str, ...]:
        """The extensions ``<ref>.auto`` tries, best first."""
        return tuple(item.lower() for item in _split(self.auto_formats))

    @cached_property
    def signature_keys(self) -> tuple[str, ...]:
        """The URL signing keys, the one that signs first; empty: none."""
        return _split(self.signing_keys)

    @cached_property
    def allowed_sizes(self) -> dict[str, tuple[float, ...]]:
        """Query parameter (w, h, dpr) -> the values allowed, for those limited."""
        lists = {"w": self.allowed_widths, "h": self.allowed_heights,
                 "dpr": self.allowed_dpr}
        return {name: _numbers(name, text) for name, text in lists.items() if text}

    @cached_property
    def rate_limits(self) -> dict[str, str]:
        """Uploads, conversions, reads -> the limits of each, for those set."""
        given = {"uploads": self.rate_limit_uploads,
                 "conversions": self.rate_limit_conversions,
                 "reads": self.rate_limit_reads}
        return {kind: text.strip() for kind, text in given.items() if text.strip()}

    @cached_property
    def fetch_hosts(self) -> tuple[str, ...]:
        """The host patterns a fetch by URL is narrowed to; empty: any public one."""
        return _split(self.fetch_allowed_hosts)

    @cached_property
    def origins(self) -> tuple[str, ...]:
        """The origins allowed by CORS; empty when browsers may not call the API."""
        return _split(self.cors_origins)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Build settings from ``PROGIMAGE_<NAME>`` variables, defaults elsewhere.

        :raises SettingsError: a variable does not parse as its setting's type.
        """
        values = {}
        for field in fields(cls):
            key = f"PROGIMAGE_{field.name.upper()}"
            if key in environ:
                values[field.name] = _parse(key, environ[key], field.type)
        return cls(**values)


def _parse(key: str, raw: str, kind: type | str) -> object:
    if kind in (bool, "bool"):
        if raw.strip().lower() not in BOOLEANS:
            raise SettingsError(f"{key} must be true or false (1 or 0), not {raw!r}")
        return BOOLEANS[raw.strip().lower()]
    parsers = {"int": (int, "a whole number"), "float": (float, "a number")}
    parser, what = parsers.get(getattr(kind, "__name__", kind), (None, ""))
    if parser is None:
        return raw
    try:
        return parser(raw.replace("_", ""))
    except ValueError:
        raise SettingsError(f"{key} must be {what}, not {raw!r}") from None


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _numbers(key: str, value: str) -> tuple[float, ...]:
    """A comma-separated list of positive numbers, rounded to 2 decimals as options
    are, sorted.

    :raises SettingsError: an item is not a positive number.
    """
    try:
        numbers = tuple(sorted(round(float(item), 2) for item in _split(value)))
    except ValueError:
        numbers = (0.0,)
    if any(number <= 0 for number in numbers):
        raise SettingsError(f"{key} must be positive numbers separated by commas, "
                            f"not {value!r}")
    return numbers
