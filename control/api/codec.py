"""Content negotiation: JSON or MessagePack in (``Content-Type``) and out (``Accept``).

Use cases::

    body = await read_body(request, TaskSubmission)    # typed, validated, or ControlError
    query = read_query(request, TaskQuery)
    return respond(request, {"task_id": "t1"}, status=201)

Refusals are ``ControlError``s with the offending field's path (``tasks[3].priority``):
415 for a media type we do not speak, 413 for a body over the app's ``client_max_size``,
400 for malformed bytes, wrong types, unknown or missing fields and out-of-range values.
"""

from __future__ import annotations

import re

import msgspec
import numpy as np
from aiohttp import web
from uqo.control.errors import ControlError

JSON, MSGPACK = "application/json", "application/msgpack"
_MSGPACK_TYPES = {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
_PATH = re.compile(r" - at `\$(.*)`$")
_NAMED = re.compile(r"field `([^`]+)`")


def _enc_hook(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


MAX_BODY = web.AppKey("max_body_bytes", int)
BODY = web.RequestKey("uqo_body", object)    # the decoded body, once read (see read_body)
MAX_DEPTH = 64                               # nesting we walk when re-reading integral floats
_JSON_ENC = msgspec.json.Encoder(enc_hook=_enc_hook)
_MSGPACK_ENC = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


def _media(request: web.Request) -> str:
    ctype = request.content_type  # lower-cased, parameters stripped; octet-stream if absent
    if ctype == JSON or ctype.endswith("+json"):
        return JSON
    if ctype in _MSGPACK_TYPES:
        return MSGPACK
    raise ControlError("unsupported_media_type", f"Content-Type {ctype!r} is not supported; "
                       f"send {JSON} or {MSGPACK}", 415, "Content-Type")


async def read_body(request: web.Request, kind: type):
    """Decode the request body into ``kind`` (an empty body reads as ``{}``). Decoded once per
    request: the authorisation middleware may read it first (to see the labels of what is
    submitted), the handler then gets the same object."""
    cached = request.get(BODY)
    if isinstance(cached, kind):
        return cached
    request[BODY] = body = await _decode_body(request, kind)
    return body


async def _decode_body(request: web.Request, kind: type):
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ControlError("body_too_large", f"request body over the limit of "
                           f"{request.app.get(MAX_BODY)} bytes", 413, None) from None
    if not raw:
        raw, media = b"{}", JSON
    else:
        media = _media(request)
    try:
        try:
            if media == JSON:
                return msgspec.json.decode(raw, type=kind)
            return msgspec.msgpack.decode(raw, type=kind)
        except msgspec.ValidationError as exc:
            if "got `float`" not in str(exc):
                raise
            return _with_integral_floats(raw, media, kind)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ControlError("malformed_body", f"body is not valid {media}: {exc}", 400,
                           None) from None


def _with_integral_floats(raw: bytes, media: str, kind: type):
    """Second chance for ``5.0`` where an int is expected: JSON Schema counts a number with no
    fraction as an integer, so we do too (strings stay strings: ``"5"`` is still refused).
    Our bodies nest a few levels: deeper than ``MAX_DEPTH`` is refused, never recursed into."""
    data = msgspec.json.decode(raw) if media == JSON else msgspec.msgpack.decode(raw)
    return msgspec.convert(_integral(data), type=kind, strict=True)


def _integral(value, depth: int = 0):
    if depth > MAX_DEPTH:
        raise ControlError("malformed_body", f"body nests deeper than {MAX_DEPTH} levels", 400,
                           None)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v, depth + 1) for k, v in value.items()}
    return value


def read_query(request: web.Request, kind: type):
    """Convert the query string into ``kind`` (strings coerced to the declared types)."""
    query = request.rel_url.query
    for key in query:
        if len(query.getall(key)) > 1:
            raise ControlError.invalid(f"query parameter {key!r} given more than once", key)
    try:
        return msgspec.convert(dict(query), type=kind, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_error(exc, where="query parameter") from None


def validation_error(exc: msgspec.ValidationError, where: str = "field") -> ControlError:
    """Turn msgspec's message into a ControlError naming the field path."""
    text = str(exc)
    match = _PATH.search(text)
    path = match.group(1).lstrip(".") if match else ""
    named = _NAMED.search(text)
    if named and not text.startswith("Expected"):
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    message = _PATH.sub("", text)
    if "unknown field" in text:
        code = "unknown_field"
    elif "missing required field" in text:
        code = "missing_field"
    else:
        code = "invalid_value"
    return ControlError(code, f"{where} {path or '(body)'}: {message}", 400, path or None)


def wants_msgpack(request: web.Request) -> bool:
    """True when the client's ``Accept`` prefers MessagePack over JSON."""
    best_json = best_msgpack = -1.0
    for part in request.headers.get("Accept", "").split(","):
        media, _, params = part.strip().partition(";")
        q = _quality(params)
        media = media.strip().lower()
        if media in _MSGPACK_TYPES:
            best_msgpack = max(best_msgpack, q)
        elif media in (JSON, "application/*", "*/*"):
            best_json = max(best_json, q)
    return best_msgpack > 0 and best_msgpack > best_json


def _quality(params: str) -> float:
    for p in params.split(";"):
        key, _, value = p.strip().partition("=")
        if key == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def encode(data, as_msgpack: bool) -> bytes:
    return _MSGPACK_ENC.encode(data) if as_msgpack else _JSON_ENC.encode(data)


def respond(request: web.Request, data, status: int = 200) -> web.Response:
    if wants_msgpack(request):
        return web.Response(body=encode(data, True), status=status, content_type=MSGPACK)
    return web.Response(body=encode(data, False), status=status, content_type=JSON)
