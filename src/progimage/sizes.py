"""Allowed sizes: a width, height or pixel ratio off its configured list is refused,
or snapped to the nearest allowed value, before the options are parsed."""

from collections.abc import Mapping

from .exceptions import InvalidOptions

#: Query parameter -> what an error calls it.
NAMES = {"w": "width", "h": "height", "dpr": "pixel ratio (dpr)"}


def restrict(query: Mapping[str, list[str]],
             allowed: Mapping[str, tuple[float, ...]],
             snap: bool) -> dict[str, list[str]]:
    """``query`` with each of ``w``, ``h`` and ``dpr`` checked against its list in
    ``allowed`` (a parameter without a list is free); with ``snap`` a value off
    the list becomes the nearest on it (the larger of two as near).

    A value that is not a number is left for the options parser to refuse.

    :raises InvalidOptions: without ``snap``, a value is not on its list.
    """
    restricted = dict(query)
    for name, values in allowed.items():
        given = query.get(name)
        if not given or len(given) != 1:
            continue
        try:
            number = round(float(given[0]), 2)
        except ValueError:
            continue
        if number in values:
            continue
        if not snap:
            listed = ", ".join(f"{value:g}" for value in values)
            raise InvalidOptions(
                f"parameter '{name}': {given[0].strip()} is not an allowed "
                f"{NAMES[name]}; allowed: {listed}"
            )
        nearest = min(values, key=lambda value: (abs(value - number), -value))
        restricted[name] = [f"{nearest:g}"]
    return restricted
