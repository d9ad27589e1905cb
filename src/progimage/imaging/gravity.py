"""Where ``fit=cover`` cuts: a compass point, a focus point, the most detail or the
faces."""

from itertools import accumulate

from PIL import Image, ImageFilter

from . import faces, modes

# Where each compass gravity puts the window, as a fraction of the slack (the part of
# the image the window leaves out) along x and along y.
COMPASS = {
    "center": (0.5, 0.5),
    "n": (0.5, 0.0), "ne": (1.0, 0.0), "e": (1.0, 0.5), "se": (1.0, 1.0),
    "s": (0.5, 1.0), "sw": (0.0, 1.0), "w": (0.0, 0.5), "nw": (0.0, 0.0),
}
# gravity=smart looks for detail on a copy no longer than this: the window is found
# to within 1/128 of the side, and the analysis costs a fraction of the resize.
ANALYSIS_SIDE = 128
# As in processing: reduce() has no 16-bit modes.
UNREDUCIBLE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
REDUCING_GAP = 2.0
# Edges weaker than this (of 255) are noise: the steps of an 8-bit ramp, JPEG
# ringing. Without them a smooth image has no detail anywhere and is cut in the
# middle, as center cuts it, not wherever the noise happens to be.
NOISE = 8

Box = tuple[float, float, float, float]


def cover_box(
    frame: Image.Image,
    target: tuple[int, int],
    gravity: str,
    focus: tuple[float, float] | None,
) -> Box:
    """The largest region of ``frame`` with the aspect ratio of ``target``, placed
    as ``gravity`` says (``focus``: the point ``gravity=focus`` centres on;
    ``face``: centred on the faces, or as ``smart`` where there are none).

    :raises InvalidOptions: ``gravity=face`` without the face detector installed.
    """
    width, height = frame.size
    if width * target[1] > height * target[0]:
        window = (height * target[0] / target[1], float(height))
    else:
        window = (float(width), width * target[1] / target[0])
    if gravity == "face":
        focus = faces.face_focus(frame)
        gravity = "smart" if focus is None else "focus"
    if gravity == "smart":
        along_x, along_y = smart_position(frame, window)
    elif gravity == "focus" and focus is not None:
        along_x = _centred_on(focus[0] * width, window[0], width)
        along_y = _centred_on(focus[1] * height, window[1], height)
    else:
        along_x, along_y = COMPASS[gravity]
    left = along_x * (width - window[0])
    top = along_y * (height - window[1])
    return left, top, left + window[0], top + window[1]


def settled_focus(
    frame: Image.Image, target: tuple[int, int], gravity: str
) -> tuple[float, float]:
    """The focus point (fractions of width and height) at the centre of the window
    ``gravity=smart`` or ``face`` chooses: so that every frame of an animation is
    cut alike.

    :raises InvalidOptions: ``gravity=face`` without the face detector installed.
    """
    left, top, right, bottom = cover_box(frame, target, gravity, None)
    return (left + right) / 2 / frame.width, (top + bottom) / 2 / frame.height


def _centred_on(point: float, window: float, whole: int) -> float:
    """The slack fraction that centres ``window`` on ``point``, kept inside."""
    slack = whole - window
    if slack <= 0:
        return 0.5
    return min(1.0, max(0.0, (point - window / 2) / slack))


def smart_position(
    frame: Image.Image, window: tuple[float, float]
) -> tuple[float, float]:
    """The slack fractions of the window with the most edge energy (as libvips'
    smartcrop does, with edges alone), found on a small copy of the frame.

    Cover cuts along one axis only, so the energy is summed into a profile along
    that axis and the window slid over it; of equally detailed windows the one
    nearest the centre wins, so a flat image is cut as ``center`` cuts it.
    """
    width, height = frame.size
    scale = min(1.0, ANALYSIS_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Never larger than the frame, which is already within the pixel limit; whole
    # factors first (as the resize does), which is 4 times faster on a 12 MP frame.
    gap = None if frame.mode in UNREDUCIBLE_MODES else REDUCING_GAP
    small = (
        frame.resize(size, Image.Resampling.BOX, reducing_gap=gap)
        if size != frame.size else frame
    )
    energy = _edges(modes.to_mode(small, "L"))
    if window[0] < width:
        profile = energy.resize((energy.width, 1), Image.Resampling.BOX)
        return _best_offset(list(profile.get_flattened_data()), window[0] * scale), 0.5
    if window[1] < height:
        profile = energy.resize((1, energy.height), Image.Resampling.BOX)
        return 0.5, _best_offset(list(profile.get_flattened_data()), window[1] * scale)
    return 0.5, 0.5


def _edges(grey: Image.Image) -> Image.Image:
    """Edge energy ("F"); 0 on the outermost pixels, where Pillow's filter copies
    the image itself (a bright side would count as detail)."""
    edges = grey.filter(ImageFilter.FIND_EDGES).point(
        lambda level: level if level >= NOISE else 0
    )
    framed = Image.new("L", edges.size, 0)
    if edges.width > 2 and edges.height > 2:
        framed.paste(edges.crop((1, 1, edges.width - 1, edges.height - 1)), (1, 1))
    return framed.convert("F")


def _best_offset(profile: list[float], window: float) -> float:
    """The slack fraction of the ``window``-long run of ``profile`` with the
    largest sum; of equal runs, the one nearest the middle."""
    length = max(1, min(len(profile), round(window)))
    slack = len(profile) - length
    if slack == 0:
        return 0.5
    sums = [0.0, *accumulate(profile)]
    best = max(
        range(slack + 1),
        key=lambda start: (
            round(sums[start + length] - sums[start], 3), -abs(2 * start - slack)
        ),
    )
    return best / slack
