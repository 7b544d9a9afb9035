"""The HTTP control API (FastAPI on the daemon's Starlette/uvicorn server; OpenAPI at /openapi.json).

    POST   /v1/calls                      place a call and run a flow (or a document URL) on it
    GET    /v1/calls, /v1/calls/{id}      live calls: status, flow, the state running now, legs
    DELETE /v1/calls/{id}                 hang up
    POST   /v1/calls/{id}/redirect        go on with another flow or document (Ytel's Interrupt)
    POST   /v1/calls/{id}/dtmf | /play    send tones / audio to the called party
    POST|GET|PATCH|DELETE /v1/callbacks   scheduled callbacks
    POST|GET /v1/campaigns, GET /v1/campaigns/{id}[/contacts], POST /v1/campaigns/{id}/pause|resume|stop
    GET    /v1/flows                      the flows a request may name

Rules kept here: handlers are thin (parse, call the service, shape the answer); every error is JSON
`{"error": {"code", "message", "details"?}}` with a 4xx/5xx status, never a traceback; URLs a caller
passes go through the SSRF guard before anything uses them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..diagnostics import did_you_mean
from ..runtime.channel import Prompt
from .calls import CallSpec, ControlError, Injection
from .models import (CallbackPatch, CallbackRequest, CallRequest, CampaignRequest, DtmfRequest, PlayRequest,
                     RedirectRequest)
from .scheduler import public
from .store import Conflict

if TYPE_CHECKING:
    from .service import ControlService

__all__ = ["build_app"]

log = logging.getLogger("flowengine.control")

DESCRIPTION = ("Place calls and control them while they run; scheduled callbacks; campaigns. Every endpoint "
               "but /healthz needs `Authorization: Bearer <token>`. Errors are JSON: "
               '`{"error": {"code": "...", "message": "..."}}`.')


def _error(status: int, code: str, message: str, details: Any = None, headers: dict | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _validation(exc: RequestValidationError, models: dict[str, type]) -> JSONResponse:
    details = []
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            return _error(400, "malformed_json", f"the request body is not valid JSON: {item.get('ctx', {}).get('error', '')}"
                          .rstrip(": "))
        location = [str(p) for p in item.get("loc", ())]
        message = item.get("msg", "invalid")
        if item.get("type") == "extra_forbidden" and location:
            model = models.get(location[0]) if len(location) == 2 else None
            fields = [f.alias or n for n, f in model.model_fields.items()] if model else []
            message = f"unknown field {location[-1]!r}{did_you_mean(location[-1], fields)}"
        elif item.get("type") == "model_attributes_type" or (item.get("type") == "dict_type" and location == ["body"]):
            message = "the request body must be a JSON object"
        details.append({"field": ".".join(location[1:]) if location[:1] == ["body"] else ".".join(location),
                        "message": message})
    return _error(422, "invalid_request", "; ".join(f"{d['field'] or 'body'}: {d['message']}" for d in details),
                  details)


def build_app(service: "ControlService") -> FastAPI:
    app = FastAPI(title="flowengine control API", version="1.0", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", description=DESCRIPTION)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]  # enforced by auth.BearerAuth on the whole server
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(ControlError)
    async def control_error(request: Request, exc: ControlError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        route = request.scope.get("route")
        params = route.dependant.body_params if route is not None and hasattr(route, "dependant") else []
        return _validation(exc, {"body": params[0].field_info.annotation} if params else {})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("control API %s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc,
                  exc_info=True)
        return _error(500, "internal", "internal error (logged by the daemon)")

    # -- calls ---------------------------------------------------------------------------------------

    @app.post("/v1/calls", status_code=201, tags=["calls"])
    async def place_call(body: CallRequest) -> JSONResponse:
        ref = await service.resolve_checked(body.flow, body.url)
        callbacks = await service.callback_urls(body.status_callback)
        if body.fallback_url:
            await service.guard(body.fallback_url, "fallback_url")
        spec = CallSpec(to=body.to, from_=body.from_, variables=body.variables, timeout=body.timeout,
                        callbacks=callbacks, metadata=body.metadata, backend=body.backend, method=body.method,
                        fallback_url=body.fallback_url)
        handle = await service.calls.place(ref, spec)
        return JSONResponse(service.calls.describe(handle), status_code=201,
                            headers={"Location": f"/v1/calls/{handle.call_id}"})

    @app.get("/v1/calls", tags=["calls"])
    async def list_calls() -> dict:
        return {"calls": await service.calls.list_calls()}

    @app.get("/v1/calls/{call_id}", tags=["calls"])
    async def get_call(call_id: str) -> dict:
        handle = service.calls.find(call_id)
        if handle is not None:
            return service.calls.describe(handle)
        found = service.calls.describe_inbound(call_id) or await service.calls.elsewhere(call_id)
        if found is None:
            raise ControlError(404, "no_such_call", f"no call {call_id}")
        return found

    @app.delete("/v1/calls/{call_id}", status_code=202, tags=["calls"])
    async def hang_up(call_id: str) -> dict:
        return await service.calls.hangup(call_id)

    @app.post("/v1/calls/{call_id}/redirect", status_code=202, tags=["calls"])
    async def redirect(call_id: str, body: RedirectRequest) -> dict:
        handle = await service.calls.require(call_id)
        ref = await service.resolve_checked(body.flow, body.url)
        await service.calls.redirect(handle, ref, body.variables)
        return {"call_id": call_id, "status": "redirecting", "flow": ref.name}

    @app.post("/v1/calls/{call_id}/dtmf", status_code=202, tags=["calls"])
    async def dtmf(call_id: str, body: DtmfRequest) -> dict:
        handle = await service.calls.require(call_id)
        queued = service.calls.inject(handle, Injection("dtmf", digits=body.digits))
        return {"call_id": call_id, "status": "queued", "position": queued}

    @app.post("/v1/calls/{call_id}/play", status_code=202, tags=["calls"])
    async def play(call_id: str, body: PlayRequest) -> dict:
        handle = await service.calls.require(call_id)
        if body.url is not None:
            await service.guard(body.url, "url")
            prompt = Prompt("play", body.url)
        else:
            prompt = Prompt("say", body.text or "", voice=body.voice, language=body.language)
        for _ in range(body.loop):
            queued = service.calls.inject(handle, Injection("play", prompt=prompt))
        return {"call_id": call_id, "status": "queued", "position": queued}

    # -- scheduled callbacks ---------------------------------------------------------------------------

    @app.post("/v1/callbacks", status_code=201, tags=["callbacks"])
    async def create_callback(body: CallbackRequest) -> JSONResponse:
        await service.resolve_checked(body.flow, body.url)
        await service.callback_urls(body.status_callback)
        record = await service.callbacks.create(body, service.new_id("cb"))
        return JSONResponse(record, status_code=201, headers={"Location": f"/v1/callbacks/{record['id']}"})

    @app.get("/v1/callbacks", tags=["callbacks"])
    async def list_callbacks(status: Literal["scheduled", "running", "completed", "failed", "cancelled"]
                             | None = None) -> dict:
        return {"callbacks": [public(r) for r in await service.store.list_callbacks(status, limit=1000)]}

    @app.get("/v1/callbacks/{callback_id}", tags=["callbacks"])
    async def get_callback(callback_id: str) -> dict:
        return _found(public(await service.store.get_callback(callback_id)), "callback", callback_id)

    @app.patch("/v1/callbacks/{callback_id}", tags=["callbacks"])
    async def update_callback(callback_id: str, body: CallbackPatch) -> dict:
        return _found(await service.callbacks.update(callback_id, body), "callback", callback_id)

    @app.delete("/v1/callbacks/{callback_id}", tags=["callbacks"])
    async def cancel_callback(callback_id: str) -> dict:
        return _found(await service.callbacks.cancel(callback_id), "callback", callback_id)

    # -- campaigns ---------------------------------------------------------------------------------------

    @app.post("/v1/campaigns", status_code=201, tags=["campaigns"])
    async def create_campaign(body: CampaignRequest) -> JSONResponse:
        await service.resolve_checked(body.flow, None)
        await service.callback_urls(body.status_callback)
        campaign = await service.campaigns.create(body, service.new_id("cmp"))
        return JSONResponse(campaign, status_code=201, headers={"Location": f"/v1/campaigns/{campaign['id']}"})

    @app.get("/v1/campaigns", tags=["campaigns"])
    async def list_campaigns() -> dict:
        return {"campaigns": [await service.campaigns.describe(c["id"]) for c in await service.store.list_campaigns()]}

    @app.get("/v1/campaigns/{campaign_id}", tags=["campaigns"])
    async def get_campaign(campaign_id: str) -> dict:
        return _found(await service.campaigns.describe(campaign_id), "campaign", campaign_id)

    @app.get("/v1/campaigns/{campaign_id}/contacts", tags=["campaigns"])
    async def campaign_contacts(campaign_id: str, limit: int = 1000) -> dict:
        _found(await service.store.get_campaign(campaign_id), "campaign", campaign_id)
        rows = await service.store.contacts(campaign_id, limit=max(1, min(limit, 10_000)))
        return {"contacts": [{k: row[k] for k in ("seq", "number", "fields", "status", "attempts", "result", "call_id",
                                                    "owner")} for row in rows]}

    @app.post("/v1/campaigns/{campaign_id}/{action}", tags=["campaigns"])
    async def campaign_action(campaign_id: str, action: str) -> dict:
        if action not in ("pause", "resume", "stop"):
            raise ControlError(404, "not_found", f"unknown campaign action {action!r}"
                                                 f"{did_you_mean(action, ['pause', 'resume', 'stop'])}")
        try:
            return _found(await service.campaigns.set_status(campaign_id, action), "campaign", campaign_id)
        except Conflict as exc:
            raise ControlError(409, "campaign_state", f"campaign {campaign_id} is {exc.status}: cannot {action}") from None

    # -- flows -------------------------------------------------------------------------------------------

    @app.get("/v1/flows", tags=["flows"])
    async def list_flows() -> dict:
        return {"flows": service.flow_list()}

    return app


def _found(value: Any, kind: str, ident: str) -> Any:
    if value is None:
        raise ControlError(404, f"no_such_{kind}", f"no {kind} {ident}")
    return value
