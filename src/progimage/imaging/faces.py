"""``gravity=face``: where the faces are, by OpenCV's Haar cascade (an install extra).

OpenCV is optional (``pip install 'progimage[face]'``, which brings
``opencv-python-headless`` and its bundled cascade files); without it ``gravity=face``
is refused with a 400 that says so.
"""

import functools

from PIL import Image

from ..exceptions import InvalidOptions
from . import modes

# Faces are looked for on a grey copy no longer than this, each scale 1.2 times the
# last: a face of 1/16 of the side (20 px) is still found. On a 1155 x 866 photo
# (loaded machine) that took 160 ms, about a resize's time; 400 px and steps of 1.1
# took 590 ms.
ANALYSIS_SIDE = 320
SMALLEST_FACE = 20
SCALE_STEP = 1.2
# The frontal face cascade that ships inside opencv-python-headless.
CASCADE = "haarcascade_frontalface_default.xml"
MISSING = (
    "parameter 'gravity': face needs the optional face detector, which this "
    "server does not have (pip install 'progimage[face]')"
)


def face_focus(frame: Image.Image) -> tuple[float, float] | None:
    """The centre (fractions of width and height) of the box around every face
    found in ``frame``; None when there is none.

    :raises InvalidOptions: OpenCV is not installed.
    """
    cascade = _cascade()
    import numpy  # present wherever OpenCV is: it depends on it

    scale = min(1.0, ANALYSIS_SIDE / max(frame.size))
    size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
    grey = modes.to_mode(frame, "L") if frame.mode != "L" else frame
    if size != frame.size:
        grey = grey.resize(size, Image.Resampling.BOX)
    found = cascade.detectMultiScale(
        numpy.asarray(grey), scaleFactor=SCALE_STEP, minNeighbors=5,
        minSize=(SMALLEST_FACE, SMALLEST_FACE),
    )
    if len(found) == 0:
        return None
    left = min(x for x, _, _, _ in found)
    top = min(y for _, y, _, _ in found)
    right = max(x + width for x, _, width, _ in found)
    bottom = max(y + height for _, y, _, height in found)
    return (left + right) / 2 / size[0], (top + bottom) / 2 / size[1]


@functools.cache
def _cascade():
    """The classifier, loaded once per converter process.

    :raises InvalidOptions: OpenCV is not installed.
    """
    try:
        import cv2
    except ImportError:
        raise InvalidOptions(MISSING) from None
    # The converter runs one conversion per process: no pool of threads of its own.
    cv2.setNumThreads(1)
    return cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
