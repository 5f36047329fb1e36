"""The OpenAPI 3.1 document, built from the route table and the schema structs.

Every route in ``routes.ROUTES`` has an entry in ``_OPS`` (a test checks both ways);
request and response bodies are the JSON Schema that ``msgspec`` derives from the very structs
the handlers decode with, so what is documented is what is enforced.
"""

from __future__ import annotations

import msgspec

from . import schemas as s
from .idempotency import HEADER, KEYED_ROUTES, MAX_KEY, REPLAYED
from .routes import PUBLIC_PATHS, ROUTES

_REF = "#/components/schemas/{name}"
_MEDIA = ("application/json", "application/msgpack")

# operationId -> (summary, request struct, (status, response struct), query struct, errors)
_OPS = {
    "live": ("liveness: the process answers", None, (200, s.Health), None, ()),
    "ready": ("readiness: recovered, ticking, accepting", None, (200, s.Health), None, (503,)),
    "metrics": ("Prometheus metrics (text exposition)", None, (200, None), None, ()),
    "openapi": ("this document", None, (200, dict), None, ()),
    "streamStatus": (("`/v1/status` every `interval` seconds as server-sent events, for "
                     "up to the server's long_poll_max_s; the token is checked before each"),
                     None, (200, "text/event-stream"), s.StatusStreamQuery, (400,)),
    "listSecurityEvents": (("admin, operator: this replica's newest audited security events "
                            "(refused logins, denials, rejected tokens), newest first"),
                           None, (200, s.SecurityEvents), s.SecurityEventsQuery, (400,)),
    "statusPage": ("the status page (static; its script logs in and calls this API)", None,
                   (200, "text/html"), None, ()),
    "statusPageScript": ("the status page's script", None, (200, "text/javascript"), None, ()),
    "statusPageStyle": ("the status page's style sheet", None, (200, "text/css"), None, ()),
    "login": ("log in (password, TOTP code for people): a bearer token", s.Login,
              (200, s.Session), None, (400, 401, 413, 415)),
    "getStatus": (("system status (forecast, quantum, scheduler, consensus, security, "
                  "performance)"),
                  None, (200, s.Status), None, ()),
    "registerAgent": ("register an agent (same spec again: 200, no change)",
                      s.AgentRegistration, (201, s.AgentView), None, (400, 409, 413, 415)),
    "listAgents": ("list agents, filtered, paginated by cursor", None, (200, s.AgentPage),
                   s.AgentQuery, (400,)),
    "getAgent": ("one agent", None, (200, s.AgentView), None, (404,)),
    "deregisterAgent": ("remove an agent; its open tasks go back to pending", None,
                        (200, s.Deregistered), None, (404,)),
    "heartbeat": (("the agent is alive (soft state, not logged); the reply may ask for a "
                  "health check (probe), answered with the next heartbeat"), s.HeartbeatBody,
                  (200, s.HeartbeatAck), None, (400, 404, 413, 415)),
    "getAssignments": ("the agent's open assignments; long-polls up to `wait` seconds", None,
                       (200, list[s.Assignment]), s.AssignmentQuery, (400, 404)),
    "reportOutcome": ("report the agent's part of a task as done or failed", s.OutcomeReport,
                      (200, s.TaskView), None, (400, 404, 409, 413, 415)),
    "submitTask": ("submit one task", s.TaskSubmission, (201, s.Submitted), None,
                   (400, 409, 413, 415)),
    "submitTasks": ("submit tasks in one batch (all or none)", s.BatchSubmission,
                    (201, s.BatchSubmitted), None, (400, 409, 413, 415)),
    "listTasks": ("list tasks, filtered by state, paginated by cursor", None,
                  (200, s.TaskPage), s.TaskQuery, (400,)),
    "getTask": ("one task", None, (200, s.TaskView), None, (404,)),
    "cancelTask": ("cancel a task that has not finished", s.CancelRequest, (200, s.TaskView),
                   None, (400, 404, 409, 413, 415)),
    "logout": ("revoke the caller's own token (on every replica)", s.Empty,
               (200, s.LoggedOut), None, (400, 413, 415)),
    "revokeToken": ("admin: revoke one token by id", s.TokenRevocation, (200, s.Revoked), None,
                    (400, 413, 415)),
    "listUsers": ("admin: every account (no secrets)", None, (200, s.UserPage), None, ()),
    "addUser": (("admin: enrol an account; the TOTP secret (and an agent's generated "
                "password) are shown once"), s.UserCreate, (201, s.UserCreated), None,
                (400, 409, 413, 415)),
    "getUser": ("admin: one account", None, (200, s.UserView), None, (404,)),
    "removeUser": ("admin: remove an account; its tokens are refused at once", None,
                   (200, s.UserRemoved), None, (404, 409)),
    "disableUser": ("admin: disable an account; its tokens are refused at once", s.Empty,
                    (200, s.UserView), None, (400, 404, 409, 413, 415)),
    "enableUser": ("admin: enable an account again", s.Empty, (200, s.UserView), None,
                   (400, 404, 409, 413, 415)),
    "unlockUser": ("admin: clear an account's lockouts", s.Empty, (200, s.UserUnlocked), None,
                   (400, 404, 413, 415)),
    "revokeUser": ("admin: end every session of an account", s.Empty, (200, s.UserView), None,
                   (400, 404, 409, 413, 415)),
    "setClearance": (("admin: a new clearance (and compartments); tokens issued before are "
                     "refused"), s.ClearanceChange, (200, s.UserView), None,
                     (400, 404, 409, 413, 415)),
    "getKeys": ("admin: the signing keys (public), where they live, the ML-DSA countersigner",
                None, (200, dict), None, ()),
    "rotateKey": ("admin: a new signing key; old tokens and checkpoints keep verifying",
                  s.Empty, (200, s.KeyView), None, (400, 413, 415)),
    "getCompliance": ("admin: NIST SP 800-53 evidence, computed now", None, (200, dict), None,
                      ()),
}
# one server-sent event: ``status`` (data: a Status document) or ``error`` (data: an Error,
# then the stream ends)
_SSE_EVENT = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"enum": ["status", "error"]},
    "data": {"type": "string", "contentMediaType": "application/json"}}}
# on the writes that log a command (idempotency.py): the key a client may send, the mark on
# an answer that repeats the first one, and the refusals the key adds (malformed, in flight,
# reused for another request)
_KEY_PARAMETER = {
    "name": HEADER, "in": "header", "required": False,
    "description": ("makes the write safe to retry, on any replica: applied once per caller "
                    "and key; a retry answers the first result (for idempotency_ttl_s, "
                    "default 24 h); the key with another request: 422"),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY,
               "pattern": "^[ -~]+$"}}
_REPLAYED_HEADER = {REPLAYED: {"description": "true: this answer repeats the first one given "
                               "under the request's Idempotency-Key",
                               "schema": {"type": "string", "enum": ["true"]}}}
_KEY_ERRORS = (400, 409, 422)
_ALWAYS = (405, 503)   # wrong method on a path; log unavailable (disk failure, shutting down)


def _components() -> tuple[dict, dict]:
    """(name -> schema for each struct in the table, the components section)."""
    kinds = {s.Error}
    for _, req, (_, resp), query, _ in _OPS.values():
        kinds.update(k for k in (req, resp, query) if k not in (None, dict)
                     and not isinstance(k, str))
    kinds = sorted(kinds, key=repr)
    refs, comps = msgspec.json.schema_components(kinds, ref_template=_REF)
    return dict(zip(kinds, refs)), comps


def _content(schema: dict) -> dict:
    return {media: {"schema": schema} for media in _MEDIA}


def _parameters(path: str, query, refs: dict, comps: dict) -> list[dict]:
    params = []
    for name in ("agent_id", "task_id", "user_id"):
        if "{" + name + "}" in path:
            params.append({"name": name, "in": "path", "required": True,
                           "schema": {"type": "string", "minLength": 1, "maxLength": 128}})
    if query is not None:
        props = comps[query.__name__]["properties"]
        params += [{"name": k, "in": "query", "required": False, "schema": _not_null(v)}
                   for k, v in props.items()]
    return params


def _not_null(schema: dict) -> dict:
    """A query parameter is absent or a value, never JSON null: drop the null branch."""
    branches = [b for b in schema.get("anyOf", ()) if b != {"type": "null"}]
    if len(branches) == 1:
        return branches[0]
    return {k: v for k, v in schema.items() if k != "default" or v is not None}


def _operation(op_id: str, path: str, refs: dict, comps: dict) -> dict:
    summary, req, (status, resp), query, errors = _OPS[op_id]
    if path not in PUBLIC_PATHS:
        errors = tuple(errors) + (401, 403)
    if op_id in KEYED_ROUTES:
        errors = tuple(errors) + _KEY_ERRORS
    if resp is None or isinstance(resp, str):      # text: a media type, or None for plain
        media = resp or "text/plain"
        schema = _SSE_EVENT if media == "text/event-stream" else {"type": "string"}
        ok = {"description": "OK", "content": {media: {"schema": schema}}}
    elif resp is dict:
        ok = {"description": "OK", "content": _content({"type": "object"})}
    else:
        schema = refs.get(resp) or msgspec.json.schema_components([resp], ref_template=_REF)[0][0]
        ok = {"description": "OK", "content": _content(schema)}
    if op_id in KEYED_ROUTES:
        ok["headers"] = _REPLAYED_HEADER
    responses = {str(status): ok}
    for code in sorted(set(errors) | set(_ALWAYS)):
        responses[str(code)] = {"description": "refused; nothing changed",
                                "content": _content(refs[s.Error])}
    operation = {"operationId": op_id, "summary": summary, "responses": responses,
                 "parameters": _parameters(path, query, refs, comps)}
    if op_id in KEYED_ROUTES:
        operation["parameters"].append(_KEY_PARAMETER)
    if op_id == "registerAgent":
        responses["200"] = ok
    if path not in PUBLIC_PATHS:
        operation["security"] = [{"bearer": []}]
    if req is not None:
        operation["requestBody"] = {"required": req is not s.Empty,
                                    "content": _content(refs[req])}
    return operation


def build_openapi() -> dict:
    refs, comps = _components()
    paths: dict[str, dict] = {}
    for route in ROUTES:
        method, path, op_id = route.method, route.path, route.name
        paths.setdefault(path, {})[method.lower()] = _operation(op_id, path, refs, comps)
    return {
        "openapi": "3.1.0",
        "info": {"title": "uqo control plane", "version": "1",
                 "description": "Unified Quantum Orchestrator: agents, tasks, status. "
                                "JSON or MessagePack by Content-Type / Accept."},
        "paths": paths,
        "components": {"schemas": comps, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "a session token from POST /v1/auth/login"}}},
    }
