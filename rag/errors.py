"""Errors regcite raises on purpose; each message says what to do next."""


class RegciteError(Exception):
    """Base for errors shown to users as a one-line message, without a traceback."""

    exit_code = 1


class ConfigError(RegciteError):
    exit_code = 2


class IndexLocked(RegciteError):
    """Another process holds the single-writer lock of the index."""


class IndexMissing(RegciteError):
    """No index has been committed at the configured location yet."""


class IndexUnavailable(RegciteError):
    """The index catalog's database cannot be reached or refuses us (server down, wrong password, no such
    database). Not IndexMissing: an index may well exist, and nothing should carry on as if there were none."""


class IndexIncompatible(RegciteError):
    """The index was written by a newer regcite, whose catalog this release cannot read safely."""


class ModelMismatch(RegciteError):
    """The index was built with another embedding model than the one configured."""


class ModelUnavailable(RegciteError):
    """A configured model cannot be loaded (not installed, no such path, no network for a hub name)."""


class BackendUnavailable(RegciteError):
    """An LLM backend could not answer (server down, timeout, bad response)."""


class DocumentError(RegciteError):
    """A file cannot be ingested: corrupt, encrypted, empty, no text layer, unsupported type."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class RecordsUnavailable(RegciteError):
    """The records database (answers, reviews, users) cannot be opened or is of a newer schema."""


class AuthError(RegciteError):
    """Who is acting could not be established: unknown user, wrong password, disabled account."""

    exit_code = 3


class PermissionDenied(RegciteError):
    """The user's role does not allow the action (reviewing, administering users)."""

    exit_code = 4


class ReviewError(RegciteError):
    """A review decision cannot be recorded: no such answer, a citation left undecided, a claim held by another."""

    exit_code = 2
