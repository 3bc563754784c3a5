"""The OpenAI error envelope and the errors the simulated platform answers with."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error rendered as `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The JSON body, shaped like OpenAI's `ErrorResponse`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def job_not_found(job_id: str) -> ApiError:
    return ApiError(
        404,
        f"Could not find fine-tuning job: {job_id}",
        param="fine_tuning_job_id",
        code="fine_tuning_job_not_found",
    )


def invalid_state(job_id: str, action: str, status: str, required: str) -> ApiError:
    """400 for pause/resume/cancel in the wrong state (reference §5: most likely 400)."""
    return ApiError(
        400,
        f"Cannot {action} job {job_id}: its status is '{status}', {required}.",
        code="invalid_job_state",
    )


def bad_limit(raw: str, maximum: int) -> ApiError:
    """400 for a `limit` that is not an integer in 1..maximum, in OpenAI's wording."""
    try:
        value = int(raw)
    except ValueError:
        return ApiError(
            400,
            f"Invalid type for 'limit': expected an integer, but got a string instead ({raw!r}).",
            param="limit",
            code="invalid_type",
        )
    if value < 1:
        return ApiError(
            400,
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, "
            f"but got {value} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    return ApiError(
        400,
        f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, "
        f"but got {value} instead.",
        param="limit",
        code="integer_above_max_value",
    )
