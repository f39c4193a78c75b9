"""OpenAI-style API errors: one exception type, one JSON shape.

Every refusal of the server is an :class:`APIError` with an HTTP status and the body
OpenAI clients parse: ``{"error": {"message", "type", "param", "code"}}``. Errors
raised by ttc-graph itself (bad sampling values, a prompt over the context) are
mapped onto it by :func:`from_exception`, so their messages, which say the fix,
reach the client unchanged.
"""

from __future__ import annotations

from typing import Any

from ttc_graph.errors import InputTooLongError, StrategyError, TTCGraphError

INVALID_REQUEST = "invalid_request_error"


class APIError(TTCGraphError):
    """A request the server refuses or could not answer, as an HTTP status and a JSON error.

    Example:
        >>> APIError(404, "Unknown model 'foo'.", param="model", code="model_not_found").body()
        {'error': {'message': "Unknown model 'foo'.", 'type': 'invalid_request_error', \
'param': 'model', 'code': 'model_not_found'}}
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,  # the field's name in OpenAI's schema
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI clients read the error from."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    """A 400 ``invalid_request_error``."""
    return APIError(400, message, param=param, code=code)


def from_exception(exc: BaseException, *, param: str | None = None) -> APIError:
    """Map an exception raised while checking or running a request to an :class:`APIError`.

    Bad input (``ValueError``, including ttc-graph's own ``LimitError``) is a 400; a
    prompt over the model's context is a 400 ``context_length_exceeded``; a search
    that failed part-way is a 500 ``server_error`` naming the strategy and node; a
    timeout is a 408. Anything else is a 500 whose message names the exception type.
    """
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, InputTooLongError):
        return bad_request(str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, TimeoutError):
        return APIError(408, str(exc) or "The request timed out.", type="timeout", code="timeout")
    if isinstance(exc, ValueError):
        return bad_request(str(exc), param=param)
    if isinstance(exc, StrategyError):
        return APIError(500, str(exc), type="server_error", code="search_failed")
    return APIError(
        500,
        f"Internal error: {type(exc).__name__}: {exc}",
        type="server_error",
        code="internal_error",
    )
