"""assay's Python SDK: a typed HTTP client for an assay server (depends on ``assay.domain`` and httpx).

>>> from assay.sdk import Client                                   # doctest: +SKIP
>>> with Client("http://127.0.0.1:8080", token) as client:          # doctest: +SKIP
...     while (lease := client.next("support-replies")) is not None:
...         client.submit(lease.assignment_id, {"helpful": 6})
"""

from assay.sdk._client import Client
from assay.sdk._errors import (
    ApiError,
    BadRequest,
    ConflictError,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    NotFoundError,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
)
from assay.sdk._models import (
    Contributor,
    Decision,
    ImportReport,
    Lease,
    Member,
    NewToken,
    NewUser,
    Project,
    Record,
    Response,
    ReviewItem,
    Token,
    User,
    Workspace,
)

__all__ = [
    "ApiError",
    "BadRequest",
    "Client",
    "ConflictError",
    "Contributor",
    "Decision",
    "Forbidden",
    "ImportReport",
    "InsufficientStorage",
    "InvalidInput",
    "Lease",
    "Member",
    "NewToken",
    "NewUser",
    "NotFoundError",
    "PayloadTooLarge",
    "Project",
    "RateLimited",
    "Record",
    "Response",
    "ReviewItem",
    "ServerError",
    "ServiceUnavailable",
    "Token",
    "TransportError",
    "Unauthorized",
    "User",
    "Workspace",
]
