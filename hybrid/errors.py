"""One error hierarchy for the engine; each class carries the HTTP status the REST API returns.

The embedded client raises these directly; the API maps them once (api/app.py) to Qdrant's
error envelope `{"status": {"error": message}, "time": ...}` with `status_code`.
"""

from __future__ import annotations


class HybridError(Exception):
    """Base class of every error the engine raises on purpose. `label` starts the message the
    REST API answers with, as Qdrant's server words its errors ("Wrong input: ...")."""

    status_code: int = 500
    label: str = "Service internal error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple:
        """Picklable whatever a subclass's __init__ takes: in cluster mode a replica's error
        crosses to the coordinator, which answers it as itself."""
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type, args: tuple, state: dict) -> HybridError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class BadRequest(HybridError):
    """The request is malformed or refers to something that cannot be used that way."""

    status_code = 400
    label = "Wrong input"


class ValidationError(BadRequest):
    """A field of the request has a wrong value. `field` is its path, e.g. `points[3].vector`.
    400, as Qdrant answers a value its parser or engine rejects."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem

    @classmethod
    def from_message(cls, exc: Exception, field: str) -> "ValidationError":
        """From a lower layer's "path: problem" error (`field` when it names no path)."""
        path, sep, problem = str(exc).partition(": ")
        return cls(path, problem) if sep else cls(field, str(exc))


class InvalidValue(ValidationError):
    """A value breaking a declared rule (a name's characters, a range): 422, as Qdrant's
    request validation (the `validator` rules on its request types) answers."""

    status_code = 422
    label = "Validation error"


class NotFound(HybridError):
    status_code = 404
    label = "Not found"


class CollectionNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Collection `{name}` doesn't exist!")
        self.name = name


class PointNotFound(NotFound):
    def __init__(self, point_id: object) -> None:
        super().__init__(f"No point with id {point_id} found")
        self.point_id = point_id


class AlreadyExists(HybridError):
    status_code = 409
    label = "Wrong input"  # Qdrant's wording for its 409

    def __init__(self, name: str) -> None:
        super().__init__(f"Collection `{name}` already exists!")
        self.name = name


class StorageLocked(HybridError):
    """Another process (or Client) holds the data folder."""

    status_code = 409
    label = "Storage locked"


class ConfigError(BadRequest):
    """A setting (an argument or a `HYBRID_*` environment variable) has a wrong value."""


class StorageError(HybridError):
    """The data on disk cannot be read or written."""

    status_code = 500


class DataDamaged(StorageError):
    """A persisted file does not verify (checksum, missing, unreadable): `path` names it."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class CollectionDamaged(StorageError):
    """The collection is red (damaged data, or a failed WAL fsync): `reason` says why and
    which file; it refuses writes (and, when it could not be loaded, reads) until repaired."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"Collection `{name}` is damaged: {reason}")
        self.name = name
        self.reason = reason


class Unauthorized(HybridError):
    status_code = 401
    label = ""


class Forbidden(HybridError):
    status_code = 403
    label = ""


class PayloadTooLarge(HybridError):
    status_code = 413
    label = "Payload too large"


class Unavailable(HybridError):
    """Too few replicas are reachable for the requested consistency (cluster mode)."""

    status_code = 503


class ModelUnavailable(BadRequest):
    """An embedding model cannot be loaded (e.g. it must be downloaded and we are offline)."""


class StandaloneMode(HybridError):
    """A cluster operation on a single-node server: 405, as a Qdrant started without
    distributed mode answers."""

    status_code = 405
    label = ""

    def __init__(self) -> None:
        super().__init__("Qdrant is running in standalone mode")


class InsufficientStorage(HybridError):
    """The node is at a limit of the global quota (memory or disk): updates are refused until
    usage falls back (507, Qdrant's InsufficientStorage; RESOURCE_EXHAUSTED over gRPC)."""

    status_code = 507
    label = "Insufficient storage"
