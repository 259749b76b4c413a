"""Errors the Invoke and CreateFunction APIs raise before any environment is involved."""


class LambdaApiError(Exception):
    """Base class; ``code`` is the AWS exception name."""

    code = "ServiceException"

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0] if self.args else ''}"


class ResourceNotFoundException(LambdaApiError, LookupError):
    code = "ResourceNotFoundException"


class InvalidParameterValueException(LambdaApiError, ValueError):
    code = "InvalidParameterValueException"


class InvalidRequestContentException(LambdaApiError, ValueError):
    code = "InvalidRequestContentException"


class RequestTooLargeException(LambdaApiError, ValueError):
    code = "RequestTooLargeException"


class ResourceConflictException(LambdaApiError):
    code = "ResourceConflictException"


class PreconditionFailedException(LambdaApiError):
    code = "PreconditionFailedException"


class ValidationException(LambdaApiError, ValueError):
    code = "ValidationException"


class ProvisionedConcurrencyConfigNotFoundException(LambdaApiError, LookupError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
