"""The two HTML documents: the sign-in form and the dashboard's shell (its views are drawn
by static/app.js from the data the SSE stream pushes). Every value is HTML-escaped."""

from __future__ import annotations

from html import escape

from services.dashboard.sessions import Session

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/app.css">
</head>
"""


def signin_page(message: str = "") -> str:
    alert = (
        f'<p class="alert" role="alert" id="signin-error">{escape(message)}</p>' if message else ""
    )
    return (
        _HEAD.format(title="Sign in · Equity Benchmarks")
        + f"""<body class="signin">
<main id="main">
<h1>Equity Benchmarks</h1>
<p>Sign in with your site's or your coordinator's API key.</p>
{alert}
<form method="post" action="/signin">
<label for="api_key">API key</label>
<input id="api_key" name="api_key" type="password" autocomplete="current-password" required
  aria-describedby="api_key_help"{' aria-invalid="true"' if message else ""}>
<p id="api_key_help" class="help">The key stays on the dashboard's server; your browser keeps only a session cookie.</p>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
"""
    )


def dashboard_page(session: Session, *, min_cell_size: int) -> str:
    identity = session.identity
    who = (
        "National coordinator"
        if session.is_coordinator
        else (identity.site_name or identity.site_id or "")
    )
    data = (
        f'data-role="{escape(identity.role.value)}" data-site-id="{escape(identity.site_id or "")}" '
        f'data-k="{min_cell_size}"'
    )
    return (
        _HEAD.format(title="Equity Benchmarks")
        + f"""<body {data}>
<a class="skip" href="#main">Skip to content</a>
<header>
<p class="brand">Equity Benchmarks</p>
<nav aria-label="Views"><ul id="nav"></ul></nav>
<p class="who">Signed in as <strong id="who">{escape(who)}</strong></p>
<form method="post" action="/signout"><button type="submit" id="signout">Sign out</button></form>
</header>
<main id="main" tabindex="-1">
<div id="controls" class="controls"></div>
<p id="live" class="live" role="status" aria-live="polite">Connecting…</p>
<div id="view"></div>
</main>
<script src="/vendor/d3.min.js"></script>
<script src="/vendor/plot.umd.min.js"></script>
<script src="/static/app.js"></script>
</body>
</html>
"""
    )
