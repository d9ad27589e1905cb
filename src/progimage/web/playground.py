"""The upload page's URL builder: a form control per query option of the OpenAPI."""

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from ..options import FALSE, TRUE

# Query parameters of GET /storage/<name> that are not image options.
NOT_OPTIONS = frozenset({"sig", "exp"})
# Friendlier names for the terse parameters; any other is shown as it is spelled.
LABELS = {
    "w": "Width", "h": "Height", "q": "Quality", "bg": "Background",
    "dpr": "Pixel ratio", "fit": "Fit",
}
# The fieldsets shown open, in this order; every other option goes under MORE.
GROUPS = (
    ("Size", ("w", "h", "fit", "dpr", "gravity", "focus")),
    ("Encoding", ("q", "lossless", "strip", "bg")),
)
MORE = "More options"
# Options whose values are only these texts are on/off flags.
FLAG_VALUES = frozenset(TRUE + FALSE)
FLAG_CHOICES = (("", "default"), ("1", "on"), ("0", "off"))


@dataclass(frozen=True)
class Control:
    """One query option as a labelled form control."""

    name: str
    label: str
    hint: str
    #: ``select``, ``number`` or ``text``.
    kind: str
    #: (value, text) for a ``select``; the first is the empty default.
    choices: tuple[tuple[str, str], ...] = ()
    #: Attributes of an ``input``: min, max, step, placeholder.
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    """A fieldset of controls."""

    title: str
    controls: tuple[Control, ...]
    open: bool


@functools.cache
def _document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("openapi.json").read_text()
    return json.loads(text)


def image_parameters() -> list[dict[str, Any]]:
    """The query parameters of ``GET /storage/<name>`` that change the image, in the
    document's order.

    :raises KeyError: the document has no such operation (a broken package).
    """
    operation = _document()["paths"]["/storage/{name}"]["get"]
    return [parameter for parameter in operation["parameters"]
            if parameter["in"] == "query" and parameter["name"] not in NOT_OPTIONS]


def groups(presets: Sequence[str] = ()) -> list[Group]:
    """The builder's fieldsets: ``GROUPS`` first, then every other option, so an
    option added to the OpenAPI document appears without a change here. With
    ``presets`` (their names), ``preset`` is a choice of them."""
    controls = {parameter["name"]: control(parameter)
                for parameter in image_parameters()}
    if presets and "preset" in controls:
        controls["preset"] = replace(
            controls["preset"], kind="select",
            choices=(("", "none"), *((name, name) for name in presets)),
        )
    found = []
    for title, names in GROUPS:
        chosen = tuple(controls.pop(name) for name in names if name in controls)
        found.append(Group(title, chosen, open=True))
    found.append(Group(MORE, tuple(controls.values()), open=False))
    return found


def control(parameter: dict[str, Any]) -> Control:
    """The control for one OpenAPI parameter object, from its schema."""
    name = parameter["name"]
    label = LABELS.get(name, name.capitalize())
    hint = re.sub(r"`([^`]*)`", r"\1", parameter.get("description", ""))
    schema = parameter.get("schema", {})
    if schema.get("oneOf"):
        # A number or a word such as ``auto``: free text, checked by the server.
        words = [choice["const"] for choice in schema["oneOf"] if "const" in choice]
        return Control(name, label, hint, "text",
                       attributes={"placeholder": " or ".join(["number", *words])})
    enum = schema.get("enum")
    if enum and set(enum) <= FLAG_VALUES:
        return Control(name, label, hint, "select", choices=FLAG_CHOICES)
    if enum:
        return Control(name, label, hint, "select",
                       choices=(("", "default"), *((value, value) for value in enum)))
    if schema.get("type") in ("integer", "number"):
        return Control(name, label, hint, "number", attributes=_bounds(schema))
    # No pattern attribute: the server's message says what is wrong, and better.
    return Control(name, label, hint, "text")


def _bounds(schema: dict[str, Any]) -> dict[str, str]:
    """min, max and step of a number input for a numeric schema."""
    bounds = {"step": "1" if schema["type"] == "integer" else "0.01"}
    for key, attribute in (("minimum", "min"), ("exclusiveMinimum", "min"),
                           ("maximum", "max")):
        if key in schema:
            bounds[attribute] = f"{schema[key]:g}"
    return bounds
