"""The dashboard's ASGI application (Starlette): sign-in, the page, the SSE streams, health.

The query channel is opened in the lifespan's startup and closed at its shutdown; nothing is
created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.dashboard import labels, metrics, views
from services.dashboard.live import cell_messages, status_messages, view_events, watch_request
from services.dashboard.pages import dashboard_page, signin_page
from services.dashboard.query_client import QueryChannel, QueryClient, QueryUnavailable, WrongKey
from services.dashboard.release_status import ReleaseBoard
from services.dashboard.sessions import COOKIE_NAME, Session, SessionStore, SigninThrottle
from services.dashboard.settings import DashboardSettings

log = structlog.get_logger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
# The browser libraries the page loads, as npm installed them (name -> path in node_modules).
VENDOR = {
    "d3.min.js": "d3/dist/d3.min.js",
    "plot.umd.min.js": "@observablehq/plot/dist/plot.umd.min.js",
}
VIEWS = ("overview", "scorecard", "interventions", "status")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Dashboard:
    """Everything the routes share, made in the lifespan."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        self.query = QueryChannel(
            settings.query_address,
            ca_file=settings.query_ca_file,
            timeout_s=settings.query_timeout_s,
        )
        self.sessions = SessionStore(
            ttl_s=settings.session_ttl_s, max_sessions=settings.max_sessions
        )
        self.throttle = SigninThrottle(
            free_failures=settings.signin_free_failures, max_delay_s=settings.signin_max_delay_s
        )

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE_NAME))


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def build_app(settings: DashboardSettings) -> Starlette:
    dashboard = Dashboard(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dashboard.query.start()
        metrics.SESSIONS.set_function(lambda: len(dashboard.sessions))
        log.info("dashboard_started", port=settings.port, query=settings.query_address)
        try:
            yield
        finally:
            await dashboard.query.stop()
            log.info("dashboard_stopped")

    async def home(request: Request) -> Response:
        session = dashboard.session(request)
        if session is None:
            return RedirectResponse("/signin", status_code=303)
        return _html(dashboard_page(session, min_cell_size=settings.min_cell_size))

    async def signin_form(request: Request) -> Response:
        if dashboard.session(request) is not None:
            return RedirectResponse("/", status_code=303)
        return _html(signin_page())

    async def signin(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        delay = dashboard.throttle.delay_s(client)
        if delay:
            await asyncio.sleep(delay)  # repeated failures from one client are slowed down
        form = parse_qs((await request.body()).decode(errors="replace"))
        api_key = (form.get("api_key") or [""])[0].strip()
        try:
            identity = await dashboard.query.client(api_key).identify() if api_key else None
            if identity is None:
                raise WrongKey()
        except WrongKey:
            dashboard.throttle.failed(client)
            metrics.SIGNINS.labels("wrong_key").inc()
            log.info("dashboard_signin_refused", client=client, delayed_s=delay)
            return _html(
                signin_page("That API key was not recognised. Check it and try again."), 401
            )
        except QueryUnavailable as error:
            metrics.SIGNINS.labels("unavailable").inc()
            log.warning("dashboard_signin_unavailable", code=str(error))
            return _html(
                signin_page("The benchmark service is not answering. Try again in a moment."), 503
            )
        dashboard.throttle.succeeded(client)
        session = dashboard.sessions.open(api_key, identity)
        metrics.SIGNINS.labels("ok").inc()
        log.info("dashboard_signed_in", role=identity.role.value, site_id=identity.site_id)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            session.token,
            max_age=int(settings.session_ttl_s),
            path="/",
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
        )
        return response

    async def signout(request: Request) -> Response:
        dashboard.sessions.close(request.cookies.get(COOKIE_NAME))
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(
            COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=settings.secure_cookies
        )
        return response

    async def stream(request: Request) -> Response:
        session = dashboard.session(request)
        view = request.path_params["view"]
        if session is None:
            return JSONResponse({"error": "signed out"}, status_code=401)
        if view not in VIEWS or (view == "overview" and not session.is_coordinator):
            return JSONResponse({"error": f"no view {view!r} for this user"}, status_code=404)
        wave = labels.wave_value(request.query_params.get("wave"))
        # A site always sees its own site: the query service refuses any other anyway.
        site_id = (
            request.query_params.get("site", "")
            if session.is_coordinator
            else session.identity.site_id or ""
        )
        client = dashboard.query.client(session.api_key)
        board = ReleaseBoard()  # the status view: ListReleases, then the stream's statuses

        async def build() -> views.Json:
            if view == "overview":
                return await views.overview(client, wave)
            if view == "status":
                return await views.status(client, board)
            chosen = site_id or await _first_site(client)
            if view == "scorecard":
                return await views.scorecard(client, chosen, wave)
            return await views.interventions(client, chosen, settings.min_cell_size)

        events = view_events(
            view=view,
            build=build,
            watch=client.watch(watch_request(view, site_id=site_id, wave=wave)),
            signed_in=lambda: dashboard.sessions.get(session.token) is not None,
            coalesce_s=settings.coalesce_s,
            keepalive_s=settings.keepalive_s,
            changes=status_messages(board) if view == "status" else cell_messages,
        )
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"},
        )

    async def vendor(request: Request) -> Response:
        relative = VENDOR.get(request.path_params["name"])
        path = settings.assets_dir / relative if relative else None
        if path is None or not path.is_file():
            return Response("not found (run make install)", status_code=404)
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
        )

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when the query service answers SERVING and the browser libraries are installed."""
        assets = all((settings.assets_dir / path).is_file() for path in VENDOR.values())
        try:
            assert dashboard.query.channel is not None
            health = health_pb2_grpc.HealthStub(dashboard.query.channel)
            reply: health_pb2.HealthCheckResponse = await health.Check(  # type: ignore[attr-defined]  # types-grpcio-health-checking declares HealthStub without its methods
                health_pb2.HealthCheckRequest(), timeout=2
            )
            serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.aio.AioRpcError:
            serving = False
        ready = serving and assets
        return JSONResponse({"query": serving, "assets": assets}, status_code=200 if ready else 503)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/signin", signin_form, methods=["GET"]),
            Route("/signin", signin, methods=["POST"]),
            Route("/signout", signout, methods=["POST"]),
            Route("/api/stream/{view}", stream),
            Route("/vendor/{name}", vendor),
            Route("/favicon.ico", favicon),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )


async def _first_site(client: QueryClient) -> str:
    sites = await client.sites()
    if not sites:
        raise LookupError("no sites are published yet")
    return sites[0].site.site_id
