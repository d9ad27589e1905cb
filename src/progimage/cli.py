"""The ``progimage`` command: upload, get, process, info and delete images, sign
image URLs; serve the API."""

import argparse
import contextlib
import dataclasses
import errno
import json
import os
import re
import secrets
import stat
import sys
import time
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import requests
from tqdm import tqdm

from .client import Client, Progress, ProgImageError
from .references import is_reference

DEFAULT_URL = "http://127.0.0.1:5000"
# An upload argument the server fetches rather than a file to read.
REMOTE = re.compile(r"https?://", re.IGNORECASE)
# The gunicorn settings of deploy/, shipped in the package (a link in the checkout).
GUNICORN_CONFIG = Path(__file__).with_name("gunicorn.conf.py")

# Image operations as options of ``get``: (query parameter, type, help).
OPERATIONS = (
    ("w", int, "width in pixels"),
    ("h", int, "height in pixels"),
    ("fit", str, "contain, cover, fill, inside or pad"),
    ("gravity", str, "the part cover keeps: center, n, ne... nw, focus, smart, face"),
    ("focus", str, "x,y fractions of the image that cover centres on"),
    ("dpr", float, "device pixel ratio (1-4), multiplies w and h"),
    ("crop", str, "x,y,w,h before resizing"),
    ("trim", int, "cut borders within this distance (0-255) of the corner colour"),
    ("pad", str, "top,right,bottom,left pixels added around, filled with bg"),
    ("rotate", float, "degrees"),
    ("flip", str, "h, v or hv"),
    ("brightness", float, "brightness factor (1 = unchanged)"),
    ("contrast", float, "contrast factor (1 = unchanged)"),
    ("saturation", float, "saturation factor (1 = unchanged, 0 = grey)"),
    ("gamma", float, "gamma (1 = unchanged, above 1 lightens)"),
    ("blur", float, "Gaussian blur sigma"),
    ("sharpen", float, "sharpening amount"),
    ("pixelate", int, "side of the square blocks to average the image into"),
    ("mask", str, "circle, rounded:<radius> or another image's reference"),
    ("watermark", str, "the reference of an image laid over the result"),
    ("wm_gravity", str, "where the watermark lies: center, n, ne... nw"),
    ("wm_offset", str, "x,y pixels inward from those edges (with tiles: the gap)"),
    ("wm_scale", float, "watermark width as a fraction of the result's (0-1)"),
    ("wm_opacity", float, "watermark opacity, 0-1"),
    ("q", int, "quality 1-100 for lossy formats"),
    ("max_bytes", int, "the highest quality (up to q) that fits in this many bytes"),
    ("bg", str, "background colour as hex, e.g. ff8800"),
    ("icc", str, "keep (the colour profile, where the format can) or srgb"),
    ("preset", str, "a named option set of the server (PROGIMAGE_PRESETS)"),
)
# What Chromium sends for an image: ``get --auto`` negotiates as a browser does.
BROWSER_ACCEPT = "image/avif,image/webp,*/*;q=0.8"
FLAGS = (
    ("grayscale", "make it grey"),
    ("sepia", "sepia tone"),
    ("lossless", "lossless WebP or AVIF"),
    ("strip", "drop EXIF and XMP metadata"),
    ("wm_tile", "repeat the watermark over the whole result"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status is 0 on success, 1 on any failure."""
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except ProgImageError as error:
        _say(_explained(error))
    except requests.ConnectionError:
        _say(f"cannot reach {args.url} (is the server running? see progimage serve)")
    except requests.RequestException as error:
        _say(f"the request to {args.url} failed: {error}")
    except OSError as error:
        _say(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    return 1


def upload(args: argparse.Namespace) -> int:
    """Upload each file, or have the server fetch each http(s) URL; print its
    reference (or details with --json).

    :raises requests.RequestException: the server cannot be reached.
    """
    failed, details = 0, []
    with _client(args) as client:
        for path in args.files:
            try:
                if REMOTE.match(path):
                    ref = client.put_url(path, args.eager)
                else:
                    with _bar(Path(path).name) as progress:
                        ref = client.put(path, progress, args.eager)
            except requests.RequestException:
                raise  # the next files would fail the same way
            except (ProgImageError, OSError) as error:
                _say(f"{path}: {_explained(error)}")
                failed += 1
                continue
            if args.json:
                url = client.url(ref)
                details.append({"file": str(path), "ref": ref, "url": url,
                                **client.info(ref)})
            else:
                _print(ref)
    if args.json:
        print(json.dumps(details, indent=2))
    return 1 if failed else 0


def get(args: argparse.Namespace) -> int:
    """Download an image, converted and processed as the options say.

    :raises FileExistsError: the output file exists and ``--force`` is not given.
    """
    if args.bulk:
        return _get_bulk(args)
    if len(args.image) > 1:
        _say("several images are read in one request with --bulk")
        return 2
    ref, extension = args.image[0]
    query = _operations(args)
    accept = args.accept
    if args.auto:
        extension, accept = "auto", accept or BROWSER_ACCEPT
    # The file is named after what was asked for, never after the server's answer.
    named = ref + (f".{extension}" if extension else "")
    with (_client(args) as client, _output(args.output or named, args.force) as target,
          _bar(named) as progress):
        client.download(target, ref, extension, progress, accept=accept, **query)
    if args.output is None:
        _print(named)
    return 0


def process(args: argparse.Namespace) -> int:
    """Have the server convert a file without keeping it; write the result to
    ``-o``, in the format of its extension (or ``--format``, or ``--auto``).

    :raises FileExistsError: the output file exists and ``--force`` is not given.
    """
    extension = args.format or Path(args.output).suffix.lstrip(".")
    accept = args.accept
    if args.auto:
        extension, accept = "auto", accept or BROWSER_ACCEPT
    if not (extension.isascii() and extension.isalnum()):
        _say(f"{args.output!r} has no extension to convert to: give --format EXT")
        return 2
    with open(args.file, "rb") as source, _client(args) as client:
        with (_output(args.output, args.force) as target,
              _bar(Path(args.file).name) as progress):
            client.process_into(target, source, extension, progress, accept=accept,
                                **_operations(args))
    return 0


def _get_bulk(args: argparse.Namespace) -> int:
    """Every image in one request, written as one ZIP (``progimage.zip``)."""
    query = _operations(args)
    entries: list[dict[str, object]] = [
        {"ref": ref, "ext": extension, "options": query}
        for ref, extension in args.image
    ]
    named = args.output or "progimage.zip"
    with (_client(args) as client, _output(named, args.force) as target,
          _bar(named) as progress):
        client.bulk(target, entries, progress)
    if args.output is None:
        _print(named)
    return 0


def srcset(args: argparse.Namespace) -> int:
    """Print the server's ready srcset of an image, as JSON."""
    ref, extension = args.image
    widths = [int(width) for width in args.widths.split(",")] if args.widths else None
    with _client(args) as client:
        print(json.dumps(
            client.srcset(ref, extension, widths, **_operations(args)), indent=2
        ))
    return 0


def sign(args: argparse.Namespace) -> int:
    """Print the signed URL of an image with the options given; 1 without a key."""
    ref, extension = args.image
    if not args.signing_key:
        _say("sign needs a key: $PROGIMAGE_SIGNING_KEYS (its first) or --signing-key")
        return 1
    expires = None
    if args.expires_in is not None:
        expires = int(time.time()) + args.expires_in
    with _client(args) as client:
        _print(client.url(ref, extension, expires, **_operations(args)))
    return 0


def _operations(args: argparse.Namespace) -> dict[str, object]:
    """The image operations given as options, as query parameters: options left
    out are None, flags left out False; flags set are sent as 1."""
    query: dict[str, object] = {
        name[3:]: 1 if value is True else value
        for name, value in vars(args).items()
        if name.startswith("op_") and value is not None and value is not False
    }
    if args.no_orient:
        query["orient"] = 0
    return query


def info(args: argparse.Namespace) -> int:
    """Print what the server knows about an image, as JSON."""
    with _client(args) as client:
        print(json.dumps(client.info(args.ref), indent=2))
    return 0


def delete(args: argparse.Namespace) -> int:
    """Delete an image."""
    with _client(args) as client:
        client.delete(args.ref)
    return 0


def serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn serving the API (never returns)."""
    if args.storage:
        os.environ["PROGIMAGE_STORAGE"] = args.storage
    config = ["--config", str(GUNICORN_CONFIG)]
    if args.workers:
        config += ["--workers", str(args.workers)]
    command = [sys.executable, "-m", "gunicorn", *config,
               "--bind", f"{args.host}:{args.port}", "progimage:create_app()"]
    os.execv(sys.executable, command)


def gc(args: argparse.Namespace) -> int:
    """Remove what failures left behind in the storage of ``PROGIMAGE_*``; print
    what was removed, as JSON."""
    # Imported here: only this command needs the storage backends (and boto3).
    from .cleanup import collect
    from .config import Settings, SettingsError
    from .exceptions import ServiceError

    try:
        done = collect(Settings.from_env(), args.refs, args.older_than)
    except (SettingsError, ServiceError) as error:
        _say(str(error))
        return 1
    print(json.dumps(dataclasses.asdict(done), indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="progimage", description="Store images on a ProgImage server and get "
        "them back in any format; or run the server.",
    )
    parser.add_argument(
        "--url", default=os.environ.get("PROGIMAGE_URL", DEFAULT_URL),
        help=f"the server (default: $PROGIMAGE_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--key", default=os.environ.get("PROGIMAGE_API_KEY"),
        help="the API key of a server that needs one (default: $PROGIMAGE_API_KEY, "
        "better: other users can see a command line)",
    )
    parser.add_argument(
        "--signing-key", default=_first(os.environ.get("PROGIMAGE_SIGNING_KEYS", "")),
        help="the key that signs image URLs (default: the first of "
        "$PROGIMAGE_SIGNING_KEYS)",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    sub = commands.add_parser("upload", help="upload images, print their references")
    sub.add_argument("files", nargs="+", metavar="FILE",
                     help="a file, or an http(s) URL the server fetches")
    sub.add_argument("--json", action="store_true",
                     help="print a JSON list with each image's details")
    sub.add_argument("--eager", default="", metavar="PRESET[.EXT],...",
                     help="presets the server converts right after storing each "
                     "image, e.g. thumb.webp,hero")
    sub.set_defaults(command=upload)
    _get_parser(commands)
    for name, action, text in (("info", info, "print an image's details as JSON"),
                               ("delete", delete, "delete an image")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("ref", metavar="REF", type=_reference)
        sub.set_defaults(command=action)
    sub = commands.add_parser("serve", help="run the server (gunicorn)")
    sub.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    sub.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    sub.add_argument("--workers", type=int, help="processes (default: one per core)")
    sub.add_argument("--storage", help="where images live ($PROGIMAGE_STORAGE)")
    sub.set_defaults(command=serve)
    sub = commands.add_parser(
        "gc", help="remove what failures left in the storage ($PROGIMAGE_*)"
    )
    sub.add_argument("refs", nargs="*", metavar="REF",
                     help="originals a failed batch left (named in its log line)")
    sub.add_argument("--older-than", type=float, default=3600, metavar="SECONDS",
                     help="age of abandoned uploads and temporary files (3600)")
    sub.set_defaults(command=gc)
    return parser


def _get_parser(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "get", help="download an image, converted to .EXT and processed",
        description="Download REF (the original) or REF.EXT (converted to EXT); "
        "with --bulk, several in one request, as one ZIP.",
    )
    sub.add_argument("image", metavar="REF[.EXT]", type=_image, nargs="+")
    sub.add_argument("--bulk", action="store_true",
                     help="read every REF[.EXT] in one request into a ZIP with a "
                     "manifest.json of each one's status (default: progimage.zip)")
    sub.add_argument("-o", "--output", help="file to write, - for standard output "
                     "(default: REF[.EXT] in this folder)")
    sub.add_argument("-f", "--force", action="store_true",
                     help="replace the output file if it exists")
    sub.add_argument("--accept", default="", metavar="TYPES",
                     help="the Accept header, for REF.auto (default */*: JPEG or PNG), "
                     "e.g. image/avif,image/webp")
    sub.add_argument("--auto", action="store_true",
                     help="ask for REF.auto as a browser showing AVIF and WebP does "
                     f"(Accept: {BROWSER_ACCEPT} unless --accept is given)")
    _add_operations(sub)
    sub.set_defaults(command=get)
    _process_parser(commands)
    sub = commands.add_parser(
        "srcset", help="print a ready srcset of an image, as JSON",
        description="Print the srcset, sizes and src of REF or REF.EXT at each width "
        "(or the preset's), with the options.",
    )
    sub.add_argument("image", metavar="REF[.EXT]", type=_image)
    sub.add_argument("--widths", type=_widths, metavar="W,W,...",
                     help="the widths in pixels, e.g. 320,640,1280")
    _add_operations(sub)
    sub.set_defaults(command=srcset)
    sub = commands.add_parser(
        "sign", help="print a signed URL of an image, converted and processed",
        description="Print the URL of REF or REF.EXT with the options, signed.",
    )
    sub.add_argument("image", metavar="REF[.EXT]", type=_image)
    sub.add_argument("--expires-in", type=int, metavar="SECONDS",
                     help="the URL stops working after this many seconds")
    _add_operations(sub)
    sub.set_defaults(command=sign)


def _process_parser(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "process", help="convert a file on the server, which keeps nothing",
        description="Send FILE to POST /process.EXT and write the converted image "
        "to OUT.EXT; nothing is stored.",
    )
    sub.add_argument("file", metavar="FILE")
    sub.add_argument("-o", "--output", required=True, metavar="OUT.EXT",
                     help="file to write, - for standard output (with --format)")
    sub.add_argument("--format", metavar="EXT",
                     help="the format to convert to (default: OUT's extension)")
    sub.add_argument("-f", "--force", action="store_true",
                     help="replace the output file if it exists")
    sub.add_argument("--accept", default="", metavar="TYPES",
                     help="the Accept header, for --format auto")
    sub.add_argument("--auto", action="store_true",
                     help="let the server choose the format as for a browser showing "
                     f"AVIF and WebP (Accept: {BROWSER_ACCEPT} unless --accept)")
    _add_operations(sub)
    sub.set_defaults(command=process)


def _add_operations(sub: argparse.ArgumentParser) -> None:
    """The image operations, as options of a command."""
    for name, kind, text in OPERATIONS:
        sub.add_argument(f"--{name}", dest=f"op_{name}", type=kind, help=text,
                         metavar=kind.__name__.upper().replace("STR", "VALUE"))
    for name, text in FLAGS:
        sub.add_argument(f"--{name}", dest=f"op_{name}", action="store_true",
                         help=text)
    sub.add_argument("--no-orient", action="store_true",
                     help="do not apply the EXIF orientation")


def _widths(text: str) -> str:
    """:raises argparse.ArgumentTypeError: not whole numbers separated by commas."""
    if not all(piece.strip().isdigit() for piece in text.split(",")):
        raise argparse.ArgumentTypeError("widths are whole numbers: 320,640,1280")
    return text


def _reference(text: str) -> str:
    """REF as typed: an image reference, the only thing a file may be named after.

    :raises argparse.ArgumentTypeError: it is not one (``../x``, a path...).
    """
    if not is_reference(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an image reference")
    return text


def _image(text: str) -> tuple[str, str]:
    """REF[.EXT] as typed: the reference, and the extension (empty: the original).

    :raises argparse.ArgumentTypeError: a bad reference, or EXT is not letters
        and digits.
    """
    ref, dot, extension = text.partition(".")
    if not is_reference(ref):
        raise argparse.ArgumentTypeError(f"{text!r} is not REF or REF.EXT")
    if dot and not (extension.isascii() and extension.isalnum()):
        raise argparse.ArgumentTypeError(f"{extension!r} is not a file extension")
    return ref, extension


def _client(args: argparse.Namespace) -> Client:
    """A client of the server given by ``--url``, with the ``--key``."""
    return Client(args.url, api_key=args.key or None,
                  signing_key=args.signing_key or None)


def _first(keys: str) -> str:
    """The first of comma-separated keys: the one that signs."""
    return next((key.strip() for key in keys.split(",") if key.strip()), "")


@contextlib.contextmanager
def _bar(label: str) -> Iterator[Progress]:
    """A progress callback drawing a bar on a terminal, and nothing elsewhere."""
    with tqdm(desc=_printable(label), unit="B", unit_scale=True, unit_divisor=1024,
              leave=False, disable=not sys.stderr.isatty()) as bar:
        def progress(done: int, size: int | None) -> None:
            bar.total = size
            bar.update(done - bar.n)
            if done == size:
                bar.refresh()  # show the finished bar, however fast it went

        yield progress


@contextlib.contextmanager
def _output(path: str, force: bool) -> Iterator[BinaryIO]:
    """Where ``get`` writes: standard output (``-``), a device or a FIFO as it is,
    or a file that appears, complete, only once the download has succeeded.

    :raises FileExistsError: the file exists and ``force`` is false.
    """
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    target = Path(path)
    special = _open_special(target)
    if special:
        with special:
            yield special
        return
    if not force and os.path.lexists(target):
        raise _exists(target)
    # Beside the target, so that the final rename stays on one file system.
    part = target.parent / f".progimage-{secrets.token_hex(8)}.part"
    try:
        descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(target)) from error
    try:
        with open(descriptor, "wb") as file:
            yield file
        _put_in_place(part, target, force)
    finally:
        part.unlink(missing_ok=True)  # the command made it: it may remove it


def _open_special(target: Path) -> BinaryIO | None:
    """``target`` opened for writing if it is a device or a FIFO (``/dev/null``),
    which is written into, never replaced; None for anything else."""
    try:
        if stat.S_ISREG(os.stat(target).st_mode) or target.is_dir():
            return None
        # Neither created nor truncated, in case it changed since os.stat.
        descriptor = os.open(target, os.O_WRONLY)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        return None
    return open(descriptor, "wb")


def _put_in_place(part: Path, target: Path, force: bool) -> None:
    """Give the complete download ``part`` the name ``target``: a rename that
    replaces the name itself (a symbolic link, not the file it points to).

    :raises FileExistsError: ``target`` appeared meanwhile and ``force`` is false.
    """
    if force:
        os.replace(part, target)
        return
    try:
        os.link(part, target)  # unlike a rename, never replaces an existing file
    except FileExistsError:
        raise _exists(target) from None
    except OSError:  # no hard links on this file system (FAT, some network ones)
        if os.path.lexists(target):
            raise _exists(target) from None
        os.replace(part, target)


def _exists(target: Path) -> FileExistsError:
    """The error for an output file that is there already."""
    return FileExistsError(errno.EEXIST, "the file exists (--force replaces it)",
                           str(target))


def _explained(error: ProgImageError | OSError) -> str:
    """The server's detail, with what to do about a missing key; or the system's
    reason."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if error.status == 401:
        return f"{error.detail} (give it with --key or PROGIMAGE_API_KEY)"
    return error.detail


def _printable(text: str) -> str:
    """``text`` with control and format characters (terminal escapes, bidi
    overrides) written as Python escapes, so that they cannot act on a terminal."""
    return "".join(
        char.encode("unicode_escape").decode()
        if unicodedata.category(char) in ("Cc", "Cf") else char
        for char in text
    )


def _print(text: str) -> None:
    """Print a result on standard output, escapes made harmless."""
    print(_printable(text), flush=True)


def _say(message: str) -> None:
    print(f"progimage: {_printable(message)}", file=sys.stderr)
