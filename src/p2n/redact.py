"""Scrub secrets from text before it is logged, stored as a log line or shown to a user.

P2N handles bearer tokens, S3 credentials, presigned URLs and LLM keys; none of them may reach a
log. Every log path goes through :func:`redact` (directly, or through :class:`RedactingFilter` on a
logger or handler), so the patterns live here and nowhere else. Redaction is idempotent and never
raises: a message that cannot be formatted is logged as it is rather than lost.

    >>> redact("GET /k?X-Amz-Signature=abc123&x=1 Authorization: Bearer eyJhbGc")
    'GET /k?X-Amz-Signature=***&x=1 Authorization: ***'
    >>> mask_id("vs_68a1b2c3d4e5f6")
    'vs_68a1b***'

What it must never do: depend on anything but the standard library (it runs inside every process,
including the CLI before settings are read).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import NamedTuple

MASK = "***"
VISIBLE_ID_CHARS = 8

_QUOTED_OR_BARE = r"(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s&,;\"'<>]+)"


def _keep_prefix(match: re.Match[str]) -> str:
    return f"{match.group('keep')}{MASK}"


def _mask_quoted(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in {'"', "'"} else ""
    return f"{match.group('keep')}{quote}{MASK}{quote}"


def _mask_id_match(match: re.Match[str]) -> str:
    return mask_id(match.group(0))


class _Rule(NamedTuple):
    # Lower-case substrings of which at least one must occur for the pattern to possibly match:
    # a cheap test that spares ordinary log lines every regex scan.
    triggers: tuple[str, ...]
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]


# Order matters: whole header values first, so that a Bearer token or an AWS signature inside an
# Authorization header is replaced as one piece.
_RULES: tuple[_Rule, ...] = (
    # Authorization / Proxy-Authorization headers, as "Name: value", "name=value" or "'Name': b'value'".
    _Rule(
        ("authorization",),
        re.compile(r"(?i)(?P<keep>\b(?:proxy-)?authorization['\"]?\s*[:=]\s*(?:b?['\"])?)[^'\"\r\n]+"),
        _keep_prefix,
    ),
    # Bearer tokens anywhere else (curl lines, exception messages).
    _Rule(("bearer",), re.compile(r"(?i)(?P<keep>\bbearer\s+)(?!\*\*\*)[A-Za-z0-9\-._~+/]+=*"), _keep_prefix),
    # Database and other URLs with a password in their userinfo.
    _Rule(
        ("://",),
        re.compile(
            r"(?P<keep>\b[a-zA-Z][a-zA-Z0-9+.\-]{0,30}://[^:/?#\s@]{0,256}:)(?!\*\*\*@)[^@/?#\s]+(?=@)"
        ),
        _keep_prefix,
    ),
    # Presigned URL parameters (SigV4 and legacy SigV2) and signature/credential fields of headers.
    _Rule(
        ("signature", "credential", "security-token", "awsaccesskeyid"),
        re.compile(
            r"(?i)(?P<keep>\b(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|"
            r"AWSAccessKeyId|Credential)\s*[=:]\s*)(?!\*\*\*)[^\s&,;\"'<>]+"
        ),
        _keep_prefix,
    ),
    # Lists of secrets (P2N_STATIC_TOKENS=token=user,token=user): everything up to whitespace.
    _Rule(
        ("static",),
        re.compile(r"(?i)(?P<keep>static[_\-]?tokens['\"]?\s*[=:]\s*)(?!\*\*\*)[^\s\"']+"),
        _keep_prefix,
    ),
    # Secret-looking key=value or "key": "value" pairs. The key must end with the sensitive word,
    # so counts such as max_tokens=100 stay readable; bounded lengths keep the scan linear.
    _Rule(
        ("secret", "passw", "token", "key"),
        re.compile(
            r"(?i)(?P<keep>\b[\w.\-]{0,64}(?:secret|password|passwd|token|api[_\-]?key|access[_\-]?key|"
            r"private[_\-]?key|session[_\-]?key|client[_\-]?secret)['\"]?\s*[=:]\s*(?:b(?=['\"]))?)"
            rf"(?P<value>(?!\*\*\*|['\"]\*\*\*['\"]){_QUOTED_OR_BARE})"
        ),
        _mask_quoted,
    ),
    # OpenAI-style API keys.
    _Rule(
        ("sk-",), re.compile(r"\b(?P<keep>sk-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"), _keep_prefix
    ),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    _Rule(("akia", "asia"), re.compile(r"\b(?P<keep>AKIA|ASIA)[A-Z0-9]{16}\b"), _keep_prefix),
    # Vector-store-like ids: shown as their first characters only.
    _Rule(("vs_",), re.compile(r"\bvs_[A-Za-z0-9]{6,}\b"), _mask_id_match),
)


def redact(text: str) -> str:
    """Return ``text`` with every secret-looking part replaced by ``***``."""
    lowered = text.lower()
    for rule in _RULES:
        if any(trigger in lowered for trigger in rule.triggers):
            text = rule.pattern.sub(rule.replace, text)
    return text


def mask_id(value: str) -> str:
    """Show an opaque identifier (vector store, file) as its first 8 characters + ``***``."""
    if len(value) <= VISIBLE_ID_CHARS:
        return MASK
    return f"{value[:VISIBLE_ID_CHARS]}{MASK}"


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message and any exception text of a record.

    Attach it to a handler to cover every record that handler emits, or to a logger (with
    :func:`guard_loggers`) to cover records created on that logger. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def guard_loggers(*prefixes: str) -> None:
    """Attach a :class:`RedactingFilter` to the named loggers and all their existing descendants.

    Logger filters do not apply to records created on child loggers, so each logger of a vendor
    library (``botocore.auth``, ``botocore.endpoint``, ...) is guarded on its own. Call this after
    the vendor library is imported; it is idempotent.
    """
    names = set(prefixes)
    names.update(
        name
        for name in list(logging.root.manager.loggerDict)
        if any(name.startswith(f"{prefix}.") for prefix in prefixes)
    )
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
            logger.addFilter(RedactingFilter())
