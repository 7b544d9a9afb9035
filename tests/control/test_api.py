"""The HTTP surface: bearer tokens, request validation, error shapes, the OpenAPI document."""

from __future__ import annotations

import logging

import httpx

from tests.channels.asterisk.support import run

from .support import READ_TOKEN, TOKEN, serving

CALL = {"to": "+15551230001", "flow": "otp", "variables": {"otp": "1234"}}


async def anonymous(served, method: str, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=served.client.base_url) as client:
        return await client.request(method, path, **kwargs)


@run
async def test_every_endpoint_but_healthz_needs_a_token(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with serving(tmp_path) as served:
        assert (await anonymous(served, "GET", "/healthz")).status_code == 200
        for method, path in (("GET", "/metrics"), ("GET", "/v1/calls"), ("POST", "/v1/calls"),
                             ("GET", "/openapi.json"), ("DELETE", "/v1/calls/x"), ("GET", "/v1/nothing")):
            response = await anonymous(served, method, path)
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == 'Bearer realm="flowengine"'
        wrong = await anonymous(served, "GET", "/v1/calls", headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
        basic = await anonymous(served, "GET", "/v1/calls", headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        read = {"Authorization": f"Bearer {READ_TOKEN}"}
        assert (await anonymous(served, "GET", "/v1/calls", headers=read)).status_code == 200
        assert (await anonymous(served, "GET", "/metrics", headers=read)).status_code == 200
        denied = await anonymous(served, "POST", "/v1/calls", headers=read, json=CALL)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
        assert not served.fake.originates
        assert (await served.client.post("/v1/calls", json=CALL)).status_code == 201
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused GET /v1/calls: unknown bearer token" in logged
    for secret in (TOKEN, READ_TOKEN, "not-the-token-at-all", "callback-secret-for-tests"):
        assert secret not in logged


@run
async def test_malformed_and_invalid_bodies_are_clear_4xx(tmp_path):
    async with serving(tmp_path) as served:
        post = served.client.post

        async def error(response: httpx.Response, status: int) -> dict:
            assert response.status_code == status, response.text
            assert "Traceback" not in response.text
            return response.json()["error"]

        broken = await error(await post("/v1/calls", content=b'{"to": "+1555",', headers={"Content-Type": "application/json"}), 400)
        assert broken["code"] == "malformed_json"
        array = await error(await post("/v1/calls", json=[CALL]), 422)
        assert array["code"] == "invalid_request"
        missing = await error(await post("/v1/calls", json={"flow": "otp"}), 422)
        assert missing["details"] == [{"field": "to", "message": "Field required"}]
        typo = await error(await post("/v1/calls", json={**CALL, "too": "+1"}), 422)
        assert typo["details"] == [{"field": "too", "message": "unknown field 'too'; did you mean 'to'?"}]
        both = await error(await post("/v1/calls", json={**CALL, "url": "https://example.com/x.xml"}), 422)
        assert "exactly one of `flow`" in both["message"]
        injection = await error(await post("/v1/calls", json={**CALL, "to": "100&SIP/evil"}), 422)
        assert injection["details"][0]["field"] == "to"
        ring = await error(await post("/v1/calls", json={**CALL, "timeout": 0}), 422)
        assert ring["details"][0]["field"] == "timeout"
        name = await error(await post("/v1/calls", json={**CALL, "variables": {"bad name": 1}}), 422)
        assert "invalid variable name" in name["message"]
        unknown = await error(await post("/v1/calls", json={**CALL, "flow": "otpp"}), 404)
        assert unknown["code"] == "unknown_flow" and "did you mean 'otp'?" in unknown["message"]
        undeclared = await error(await post("/v1/calls", json={**CALL, "variables": {"otp": "1", "pin": "2"}}), 422)
        assert undeclared["code"] == "undeclared_variable"
        backend = await error(await post("/v1/calls", json={**CALL, "backend": "freeswitch"}), 422)
        assert backend["code"] == "no_backend"
        keys = await error(await post("/v1/calls/x/dtmf", json={"digits": "12x"}), 422)
        assert keys["details"][0]["field"] == "digits"
        route = await error(await served.client.get("/v1/nothing"), 404)
        assert route["code"] == "not_found"
        method = await error(await served.client.put("/v1/calls"), 405)
        assert method["code"] == "method_not_allowed"
        assert not served.fake.originates


@run
async def test_urls_from_callers_pass_the_ssrf_guard(tmp_path):
    async with serving(tmp_path, allow_private=False) as served:
        for body in ({**CALL, "flow": None, "url": "http://127.0.0.1:8080/voice.xml"},
                     {**CALL, "status_callback": "http://10.0.0.5/hook"},
                     {**CALL, "flow": None, "url": "file:///etc/passwd"}):
            response = await served.client.post("/v1/calls", json=body)
            assert response.status_code == 422, body
            assert response.json()["error"]["code"] == "url_not_allowed"
        assert not served.fake.originates


@run
async def test_openapi_document_describes_the_api(tmp_path):
    async with serving(tmp_path) as served:
        document = (await served.client.get("/openapi.json")).json()
        assert document["openapi"].startswith("3.")
        paths = document["paths"]
        for path in ("/v1/calls", "/v1/calls/{call_id}", "/v1/calls/{call_id}/redirect", "/v1/calls/{call_id}/dtmf",
                     "/v1/calls/{call_id}/play", "/v1/callbacks", "/v1/callbacks/{callback_id}", "/v1/campaigns",
                     "/v1/campaigns/{campaign_id}", "/v1/flows"):
            assert path in paths, path
        assert set(paths["/v1/calls"]) == {"get", "post"} and "delete" in paths["/v1/calls/{call_id}"]
        assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
        call = document["components"]["schemas"]["CallRequest"]
        assert "to" in call["required"] and "from" in call["properties"]
        flows = (await served.client.get("/v1/flows")).json()["flows"]
        names = {f["name"]: f for f in flows}
        assert {"click-to-call", "otp", "masking", "callback", "broadcast", "idle"} <= set(names)
        assert names["otp"]["builtin"] and names["otp"]["variables"] == ["intro", "language", "otp", "repeat", "voice"]
