"""The HTTP API of jobs, metrics, logs, stages, status and resources (see SPEC.md,
"HTTP API"), one module per resource; `jobs.api.urls` routes to them.

Views are thin: they parse the request with an input serializer, call a selector (reads)
or a service function (writes, which validate, store and push live updates) and return
the shapes of `jobs.events` / `jobs.selectors`. Reads accept a session or a token;
writes need a token whose scope covers the job (`jobs.accounts.permissions`).

Every response body is documented in the view's docstring and in the OpenAPI schema at
`/api/schema/`; the browser pages rely on these shapes, keep them stable.
"""
