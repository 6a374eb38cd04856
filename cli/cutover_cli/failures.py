"""One error path for every command: what went wrong and what to do, in a line or two, with an
exit code that says which kind of failure it was. ``--debug`` shows the traceback instead.

Exit codes (README, "Exit codes"):
  0  done (a rehearsal or a followed cutover succeeded)
  1  failed: AWS answered with an error, a function failed, anything unexpected
  2  refused or invalid input: nothing was changed (a bad plan, an unknown cutover, a file that
     cannot be read, a busy port)
  3  rolled back (a rehearsal, ``start --wait``, ``status`` of a cutover that was rolled back)
  4  cannot reach AWS: no credentials or region, credentials refused, an endpoint that does not answer
  130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import os
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_ROLLED_BACK, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

# AWS error codes that mean "these credentials are not accepted", whatever the service
_CREDENTIALS_REFUSED = {
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
    "InvalidSignatureException", "SignatureDoesNotMatch", "RequestExpired", "AuthFailure",
    "InvalidAccessKeyId", "IncompleteSignature", "MissingAuthenticationToken",
}
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_LOCAL_HINT = "or --endpoint-url for a local endpoint (cutover local up)"


class CommandError(Exception):
    """What went wrong, said so that the operator knows what to do; carries the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED, kind: str | None = None):
        super().__init__(message)
        self.code, self.kind = code, kind  # kind: the error a control plane function answered with


def read_text(path: str, what: str, expected: str = "YAML or JSON") -> str:
    """A file given on the command line, as text; every way it can fail said as a refusal."""
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise CommandError(f"{what} {path} is a directory: give a file", EXIT_INVALID) from None
    except FileNotFoundError:
        raise CommandError(f"{what} {path} does not exist", EXIT_INVALID) from None
    except OSError as exc:
        raise CommandError(f"cannot read {what} {path}: {exc.strerror or exc}", EXIT_INVALID) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{what} {path} is not text: {expected} expected", EXIT_INVALID) from None
    if not text.strip():
        raise CommandError(f"{what} {path} is empty", EXIT_INVALID)
    return text


def writable_file(path: str, what: str) -> Path:
    """Where a command will write, checked before it runs (a rehearsal must not run for nothing)."""
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise CommandError(f"{what} {path} is a directory: give a file name", EXIT_INVALID)
    if not folder.is_dir():
        raise CommandError(f"{what} {path}: the folder {folder} does not exist (create it first)", EXIT_INVALID)
    try:
        with target.open("a"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot write {what} {path}: {exc.strerror or exc}", EXIT_INVALID) from None
    return target


def explain(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code for a failure a user can meet; None for one that is a defect."""
    if isinstance(exc, CommandError):
        return str(exc), exc.code
    from botocore import exceptions as boto

    from cutover.errors import CutoverError

    if isinstance(exc, CutoverError):  # the control plane's own refusals and AWS trouble it names
        return f"{type(exc).__name__}: {exc}", EXIT_FAILED
    if isinstance(exc, boto.ParamValidationError):
        return None  # a request the CLI built wrong: a defect, shown as one
    if isinstance(exc, boto.NoRegionError):
        return "no AWS region: pass --region or set AWS_DEFAULT_REGION", EXIT_UNREACHABLE
    if isinstance(exc, boto.ProfileNotFound):
        return f"{exc}: name a profile that exists in ~/.aws/config (--profile or AWS_PROFILE)", EXIT_UNREACHABLE
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError | boto.CredentialRetrievalError):
        if os.environ.get("AWS_ENDPOINT_URL"):
            return (f"cannot reach {os.environ['AWS_ENDPOINT_URL']}: {exc}. A local endpoint takes any credentials: "
                    "export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local (cutover local up prints them)",
                    EXIT_UNREACHABLE)
        return (f"cannot reach AWS: {exc}. Configure credentials (aws configure, AWS_PROFILE or --profile) "
                f"{_LOCAL_HINT}", EXIT_UNREACHABLE)
    if isinstance(exc, boto.TokenRetrievalError | boto.SSOError):
        return f"cannot reach AWS: {exc} (run aws sso login)", EXIT_UNREACHABLE
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError):
        where = getattr(exc, "kwargs", {}).get("endpoint_url", "the endpoint")
        return (f"cannot reach AWS at {where}: nothing answers there. Check the network, or, for a local "
                "endpoint, that cutover local up is running and --endpoint-url names its port", EXIT_UNREACHABLE)
    if isinstance(exc, boto.ReadTimeoutError | boto.ConnectionClosedError):
        return f"cannot reach AWS: {exc} (the endpoint stopped answering; nothing is known to have changed)", EXIT_UNREACHABLE
    if isinstance(exc, boto.SSLError):
        return f"cannot reach AWS: TLS failed: {exc} (a proxy? check AWS_CA_BUNDLE)", EXIT_UNREACHABLE
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        operation = getattr(exc, "operation_name", "a call")
        if code in _CREDENTIALS_REFUSED:
            return (f"AWS refused the credentials ({code}: {message}): refresh them or pick another profile "
                    f"(--profile)", EXIT_UNREACHABLE)
        if code in _ACCESS_DENIED:
            return (f"AWS denied {operation} ({message}): the caller needs the operator policy of the stack "
                    "(README, Deploy)", EXIT_FAILED)
        return f"AWS answered {operation} with {code}: {message}", EXIT_FAILED
    if isinstance(exc, boto.BotoCoreError):
        return f"cannot talk to AWS: {exc}", EXIT_UNREACHABLE
    return None
