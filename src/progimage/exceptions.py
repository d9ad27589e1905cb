"""Domain errors: what a client can get wrong, free of any HTTP knowledge.

``errors.py`` maps each class to a status code; nothing else here knows about HTTP.
"""


class ServiceError(Exception):
    """Base of every error that a request can foreseeably cause."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidUpload(ServiceError):
    """The upload request lacks the file or the file is empty."""


class UnsupportedImage(ServiceError):
    """The bytes are not an image that Pillow can read."""


class InvalidOptions(ServiceError):
    """A query parameter of an image request is unknown or has a bad value."""


class UnknownFormat(ServiceError):
    """The requested output extension names no format that can be written."""


class ImageTooLarge(ServiceError):
    """The image has more pixels than the configured limit."""


class ConversionFailed(ServiceError):
    """A stored image could not be decoded or re-encoded."""


class ImageNotFound(ServiceError):
    """No image is stored under the reference."""


class ConversionTimedOut(ServiceError):
    """A conversion ran past the time limit, or every converter stayed busy."""


class ConversionOverran(ConversionTimedOut):
    """A job started and ran past the time limit, so it was stopped: the image (not a
    busy server) is what took too long."""


class ConvertersBusy(ServiceError):
    """As many conversions as allowed are running or waiting already."""


class StorageFull(ServiceError):
    """The storage has no room (or quota) left for the upload."""


class MissingCredentials(ServiceError):
    """The request needs an API key and carries none."""


class WrongCredentials(ServiceError):
    """The request carries an API key that is not accepted."""


class MissingSignature(ServiceError):
    """Signed reads are on and the request carries no ``sig``."""


class WrongSignature(ServiceError):
    """The request's ``sig`` is not the signature of its path and query under any
    configured signing key (or the URL was altered after signing)."""


class ExpiredSignature(ServiceError):
    """The request is signed, but its ``exp`` time has passed."""


class RateLimited(ServiceError):
    """The client made more requests of one kind than its rate limit allows."""

    #: Whole seconds until the client's window resets: the limiter sets it.
    retry_after: int = 1


class StorageUnavailable(ServiceError):
    """The storage backend cannot be reached or refuses to work; try again later."""


class StoredImageCorrupt(ServiceError):
    """A stored image fails its integrity check (its record disagrees with its
    bytes): the store was damaged or tampered with, not the client's doing."""


class NotAcceptable(ServiceError):
    """The client's Accept header takes none of the formats an image is offered as."""


class FetchRefused(ServiceError):
    """A URL to fetch is refused by the rules: not http(s), or its host is not
    allowed (private, loopback, not listed...)."""


class FetchFailed(ServiceError):
    """The remote side of a URL to fetch failed: unreachable, an error answer, no
    image, or larger than the upload limit."""


class FetchTimedOut(ServiceError):
    """Fetching a URL took longer than the fetch time limits."""
