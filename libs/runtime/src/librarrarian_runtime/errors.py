"""Errors that cross a service boundary on a request/reply endpoint, the same classes on both sides.

An endpoint raises one (``raise NotFound(f"there is no job {job_id}")``); the asker's ``queries.ask`` raises
the same class with the same message. The code travels in the ``Nats-Service-Error-Code`` header, and the
gateway answers HTTP with it.

    ServiceError          any error answer; ``code`` is its HTTP-style status
    ├── BadRequest        400: the request cannot be carried out as asked
    ├── Unauthorized      401: the key presented is not the one the service keeps (a webhook's)
    ├── NotFound          404: what it names does not exist
    ├── Conflict          409: it exists, but its state forbids this
    ├── InternalError     500: the service failed (it logged why)
    ├── UpstreamFailed    502: a server the service talks to (Plex, Jellyfin) refused or failed
    └── Unavailable       503: no service answered in time, or none is running
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    code: ClassVar[str] = "500"

    @property
    def status(self) -> int:
        return int(self.code)


class BadRequest(ServiceError):
    code = "400"


class Unauthorized(ServiceError):
    code = "401"


class NotFound(ServiceError):
    code = "404"


class Conflict(ServiceError):
    code = "409"


class InternalError(ServiceError):
    code = "500"


class UpstreamFailed(ServiceError):
    code = "502"


class Unavailable(ServiceError):
    code = "503"


BY_CODE: dict[str, type[ServiceError]] = {
    cls.code: cls
    for cls in (BadRequest, Unauthorized, NotFound, Conflict, InternalError, UpstreamFailed, Unavailable)
}


def from_code(code: str, description: str) -> ServiceError:
    """The error an answer with this code stands for; an unknown code is an internal error."""
    return BY_CODE.get(code, InternalError)(description)
