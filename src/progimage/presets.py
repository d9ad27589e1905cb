"""Named option sets (``?preset=thumb``) from PROGIMAGE_PRESETS and a TOML file.

``thumb=w:256,h:256,fit:cover;hero=w:1600,q:70``: presets are separated by ``;``,
options by ``,``, each written ``parameter:value``. A piece without a ``:`` continues
the value before it, so ``crop:0,0,100,80`` keeps its commas.
"""

import re
import tomllib
from collections.abc import Mapping

from .exceptions import InvalidOptions
from .options import PARAMETERS, parse

PRESET = "preset"
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Preset name -> query parameter -> value, as a query string would give it.
Presets = dict[str, dict[str, str]]


class PresetError(ValueError):
    """A preset definition cannot be used; the message names it and says why."""


def parse_presets(text: str) -> Presets:
    """The presets written in PROGIMAGE_PRESETS' syntax, each checked as a query.

    :raises PresetError: a name or an option is malformed or invalid.
    """
    presets: Presets = {}
    for definition in filter(None, (part.strip() for part in text.split(";"))):
        name, equals, body = (part.strip() for part in definition.partition("="))
        if not equals:
            raise PresetError(f"{definition!r} is not name=parameter:value,...")
        presets = _merge(presets, {name: _options(name, body)})
    return presets


def load_file(path: str) -> Presets:
    """The presets of a TOML file: one table per preset, ``[thumb]`` then
    ``w = 256`` and so on.

    :raises PresetError: the file cannot be read, is not TOML, or holds a bad preset.
    """
    try:
        with open(path, "rb") as file:
            tables = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PresetError(f"cannot read {path}: {error}") from None
    presets: Presets = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise PresetError(f"{name!r} in {path} is not a table ([{name}])")
        options = {key: _text(value) for key, value in table.items()}
        presets = _merge(presets, {name: _checked(name, options)})
    return presets


def combine(*sources: Presets) -> Presets:
    """All presets of ``sources``.

    :raises PresetError: two sources define one name.
    """
    presets: Presets = {}
    for source in sources:
        presets = _merge(presets, source)
    return presets


def expand(
    query: Mapping[str, list[str]], presets: Presets, only_presets: bool = False
) -> dict[str, list[str]]:
    """``query`` with its ``preset`` replaced by the preset's options; options given
    in ``query`` win over the preset's.

    :raises InvalidOptions: the preset is unknown or repeated, or (``only_presets``)
        the query has any other parameter.
    """
    expanded = {name: list(values) for name, values in query.items()}
    names = expanded.pop(PRESET, [])
    known = ", ".join(presets) or "none are configured"
    if only_presets and expanded:
        raise InvalidOptions(
            f"only presets are allowed (?preset=<name>; presets: {known}), "
            f"not {', '.join(expanded)}"
        )
    if not names:
        return expanded
    if len(names) != 1:
        raise InvalidOptions(f"parameter '{PRESET}' is given more than once")
    if names[0] not in presets:
        raise InvalidOptions(f"parameter '{PRESET}': unknown preset; presets: {known}")
    for name, value in presets[names[0]].items():
        expanded.setdefault(name, [value])
    return expanded


def _options(name: str, body: str) -> dict[str, str]:
    pieces: list[str] = []
    for piece in body.split(","):
        if ":" in piece or not pieces:
            pieces.append(piece.strip())
        else:
            pieces[-1] += f",{piece.strip()}"
    options: dict[str, str] = {}
    for piece in filter(None, pieces):
        key, colon, value = piece.partition(":")
        if not colon:
            raise PresetError(f"preset {name!r}: {piece!r} is not parameter:value")
        if key.strip() in options:
            raise PresetError(f"preset {name!r}: {key.strip()!r} is given twice")
        options[key.strip()] = value.strip()
    return _checked(name, options)


def _checked(name: str, options: dict[str, str]) -> dict[str, str]:
    """:raises PresetError: the name or an option is invalid, or there is none."""
    if not NAME.fullmatch(name):
        raise PresetError(
            f"preset name {name!r} must be 1-64 letters, digits, '_' or '-'"
        )
    if not options:
        raise PresetError(f"preset {name!r} has no options")
    unknown = [key for key in options if key not in PARAMETERS]
    if unknown:
        raise PresetError(f"preset {name!r}: unknown parameter {unknown[0]!r}")
    try:
        parse({key: [value] for key, value in options.items()})
    except InvalidOptions as error:
        raise PresetError(f"preset {name!r}: {error.detail}") from None
    return options


def _merge(presets: Presets, more: Presets) -> Presets:
    twice = presets.keys() & more.keys()
    if twice:
        raise PresetError(f"preset {sorted(twice)[0]!r} is defined twice")
    return {**presets, **more}


def _text(value: object) -> str:
    """A TOML value as a query string writes it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
