"""The ``progimage`` command: upload, get, info and delete images; serve the API."""

import argparse
import contextlib
import dataclasses
import json
import mimetypes
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import requests
from tqdm import tqdm

from .client import Client, Progress, ProgImageError

DEFAULT_URL = "http://127.0.0.1:5000"
# The checkout's gunicorn settings, used by ``serve`` when the package runs from one.
GUNICORN_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"

# Image operations as options of ``get``: (query parameter, type, help).
OPERATIONS = (
    ("w", int, "width in pixels"),
    ("h", int, "height in pixels"),
    ("fit", str, "contain, cover, fill or inside"),
    ("dpr", float, "device pixel ratio (1-4), multiplies w and h"),
    ("crop", str, "x,y,w,h before resizing"),
    ("rotate", float, "degrees"),
    ("flip", str, "h, v or hv"),
    ("blur", float, "Gaussian blur sigma"),
    ("sharpen", float, "sharpening amount"),
    ("mask", str, "circle, rounded:<radius> or another image's reference"),
    ("q", int, "quality 1-100 for lossy formats"),
    ("bg", str, "background colour as hex, e.g. ff8800"),
)
FLAGS = (
    ("grayscale", "make it grey"),
    ("sepia", "sepia tone"),
    ("lossless", "lossless WebP or AVIF"),
    ("strip", "drop EXIF and XMP metadata"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status is 0 on success, 1 on any failure."""
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except ProgImageError as error:
        _say(error.detail)
    except requests.ConnectionError:
        _say(f"cannot reach {args.url} (is the server running? see progimage serve)")
    except OSError as error:
        _say(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    return 1


def upload(args: argparse.Namespace) -> int:
    """Upload each file; print its reference (or details with --json)."""
    failed, details = 0, []
    with Client(args.url) as client:
        for path in args.files:
            try:
                with _bar(path.name) as progress:
                    ref = client.put(path, progress)
            except (ProgImageError, OSError) as error:
                _say(f"{path}: {getattr(error, 'detail', None) or error.strerror}")
                failed += 1
                continue
            if args.json:
                url = f"{client.url}/storage/{ref}"
                details.append({"file": str(path), "ref": ref, "url": url,
                                **client.info(ref)})
            else:
                print(ref, flush=True)
    if args.json:
        print(json.dumps(details, indent=2))
    return 1 if failed else 0


def get(args: argparse.Namespace) -> int:
    """Download an image, converted and processed as the options say."""
    ref, _, extension = args.image.partition(".")
    # Options left out are None, flags left out False; flags set are sent as 1.
    query = {name[3:]: 1 if value is True else value
             for name, value in vars(args).items()
             if name.startswith("op_") and value is not None and value is not False}
    if args.no_orient:
        query["orient"] = 0
    with (Client(args.url) as client, _output(args.output) as (target, is_file),
          _bar(args.image) as progress):
        mime = client.download(target, ref, extension, progress, **query)
    if is_file and args.output is None:
        named = Path(ref + (f".{extension}" if extension else _extension(mime)))
        Path(target.name).replace(named)
        print(named)
    return 0


def info(args: argparse.Namespace) -> int:
    """Print what the server knows about an image, as JSON."""
    with Client(args.url) as client:
        print(json.dumps(client.info(args.ref), indent=2))
    return 0


def delete(args: argparse.Namespace) -> int:
    """Delete an image."""
    with Client(args.url) as client:
        client.delete(args.ref)
    return 0


def serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn serving the API (never returns)."""
    if args.storage:
        os.environ["PROGIMAGE_STORAGE"] = args.storage
    config = ["--config", str(GUNICORN_CONFIG)] if GUNICORN_CONFIG.is_file() else []
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
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    sub = commands.add_parser("upload", help="upload images, print their references")
    sub.add_argument("files", nargs="+", type=Path, metavar="FILE")
    sub.add_argument("--json", action="store_true",
                     help="print a JSON list with each image's details")
    sub.set_defaults(command=upload)
    _get_parser(commands)
    for name, action, text in (("info", info, "print an image's details as JSON"),
                               ("delete", delete, "delete an image")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("ref", metavar="REF")
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
        description="Download REF (the original) or REF.EXT (converted to EXT).",
    )
    sub.add_argument("image", metavar="REF[.EXT]")
    sub.add_argument("-o", "--output", help="file to write, - for standard output "
                     "(default: REF.EXT in this folder)")
    for name, kind, text in OPERATIONS:
        sub.add_argument(f"--{name}", dest=f"op_{name}", type=kind, help=text,
                         metavar=kind.__name__.upper().replace("STR", "VALUE"))
    for name, text in FLAGS:
        sub.add_argument(f"--{name}", dest=f"op_{name}", action="store_true",
                         help=text)
    sub.add_argument("--no-orient", action="store_true",
                     help="do not apply the EXIF orientation")
    sub.set_defaults(command=get)


@contextlib.contextmanager
def _bar(label: str) -> Iterator[Progress]:
    """A progress callback drawing a bar on a terminal, and nothing elsewhere."""
    with tqdm(desc=label, unit="B", unit_scale=True, unit_divisor=1024,
              leave=False, disable=not sys.stderr.isatty()) as bar:
        def progress(done: int, size: int | None) -> None:
            bar.total = size
            bar.update(done - bar.n)
            if done == size:
                bar.refresh()  # show the finished bar, however fast it went

        yield progress


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[tuple[BinaryIO, bool]]:
    """Where ``get`` writes: standard output, or a file kept only on success."""
    if path == "-":
        yield sys.stdout.buffer, False
        sys.stdout.flush()
        return
    target = Path(path) if path else Path(f".progimage-{os.getpid()}.part")
    try:
        with open(target, "wb") as file:
            yield file, True
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _extension(mime: str) -> str:
    """The usual extension for a MIME type (``.jpg`` for JPEG), or none."""
    mime = mime.split(";")[0].strip()
    return {"image/jpeg": ".jpg", "image/tiff": ".tif"}.get(mime) or (
        mimetypes.guess_extension(mime) or ""
    )


def _say(message: str) -> None:
    print(f"progimage: {message}", file=sys.stderr)
