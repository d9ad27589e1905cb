"""The ``get`` and ``url`` commands take every processing parameter as an option."""

from progimage.cli import _operations, _parser
from progimage.options import PARAMETERS

REF = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
# Query parameters the command spells otherwise (``--no-orient``).
SPELLED_OTHERWISE = {"orient"}


def test_every_query_parameter_is_an_option_of_get():
    """A parameter the server reads and the command cannot send would be a gap."""
    options = {
        action.dest[3:]
        for action in _parser()._subparsers._group_actions[0].choices["get"]._actions
        if action.dest.startswith("op_")
    }
    assert set(PARAMETERS) - SPELLED_OTHERWISE <= options


def test_watermark_options_become_query_parameters():
    """``--watermark REF --wm_gravity se --wm_offset -4,4 --wm_tile`` is sent as is."""
    args = _parser().parse_args([
        "get", REF, "--watermark", REF, "--wm_gravity", "se", "--wm_offset=-4,4",
        "--wm_scale", "0.2", "--wm_opacity", "0.5", "--wm_tile",
    ])
    assert _operations(args) == {
        "watermark": REF, "wm_gravity": "se", "wm_offset": "-4,4",
        "wm_scale": 0.2, "wm_opacity": 0.5, "wm_tile": 1,
    }
