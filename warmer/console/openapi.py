"""The OpenAPI 3 description of /api/warmer/, served at /api/warmer/openapi.json."""

from __future__ import annotations

from typing import Any

from warmer.console.analytics_queries import MAX_WINDOW_HOURS
from warmer.console.params import MAX_LIMIT, SORTS
from warmer.ledger.models import JobStatus, Trigger
from warmer.ledger.queries import JOB_FIELDS

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: dict[str, Any], code: str = "200") -> dict[str, Any]:
    return {code: {"description": description, "content": {JSON: {"schema": schema}}}}


def _errors(*codes: str) -> dict[str, Any]:
    meaning = {
        "400": "A bad parameter; the message names it and what was expected.",
        "401": "Authentication required (or the API is disabled without auth).",
        "403": "A POST without a valid CSRF token, or a cross-site request.",
        "404": "No such job or repository.",
        "409": "The job's current state does not allow this.",
        "503": "The ledger database does not answer.",
    }
    return {c: {"description": meaning[c], "content": {JSON: {"schema": _ref("Error")}}} for c in codes}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_REPO = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Repository name (may contain '/').",
}
_CSRF = [{"csrf": []}]

_JOB_PROPS: dict[str, Any] = {field: {"type": ["string", "null"]} for field in JOB_FIELDS}
_JOB_PROPS.update(
    id={"type": "integer"},
    attempts={"type": "integer"},
    priority={"type": "integer", "description": "0 is the most urgent (commit), 2 the least (miss)."},
    scope={"type": ["array", "null"], "items": {"type": "string"}},
    status={"type": "string", "enum": [s.value for s in JobStatus]},
    trigger={"type": "string", "enum": [t.value for t in Trigger]},
    failures={"type": "integer"},
    reclaims={"type": "integer"},
)


_JOB_FILTERS = [
    _query("repo", {"type": "string"}, "Repository name."),
    _query("artifact_type", {"type": "string"}, "e.g. repo_map."),
    _query("trigger", {"type": "string", "enum": [t.value for t in Trigger]}, "What caused it."),
    _query("q", {"type": "string"}, "Search: a job id, a commit prefix, a repository name or error text."),
    _query("finished_within_hours", {"type": "number"}, "Only jobs finished in the last N hours."),
]


def spec(url_prefix: str = "") -> dict[str, Any]:
    base = "/" + url_prefix.strip("/") if url_prefix.strip("/") else ""
    any_object = {"type": "object", "additionalProperties": True}
    paths: dict[str, Any] = {
        "/overview": {
            "get": {
                "summary": "Queue overview, per-queue depth, warmer instances and jobs in progress",
                "responses": {**_ok("The Warmers page's figures", _ref("Overview")), **_errors("400", "401")},
            }
        },
        "/instances": {
            "get": {
                "summary": "Warmer instances (workers) with heartbeat, utilization and jobs processed",
                "parameters": [
                    _query("include_stopped", {"type": "boolean", "default": False}, "Also stopped ones.")
                ],
                "responses": {**_ok("Instances", any_object), **_errors("400", "401")},
            }
        },
        "/jobs": {
            "get": {
                "summary": "One keyset page of jobs, filtered, searched and sorted",
                "parameters": [
                    *_JOB_FILTERS,
                    _query(
                        "status",
                        {"type": "string"},
                        "Job state, or several comma-separated: "
                        + ", ".join(s.value for s in JobStatus)
                        + ".",
                    ),
                    _query(
                        "sort",
                        {"type": "string", "enum": list(SORTS), "default": "newest"},
                        "newest or oldest by id, or finished: most recently finished first.",
                    ),
                    _query(
                        "after",
                        {"type": "string"},
                        "The `next` cursor of the page before: the following page.",
                    ),
                    _query(
                        "before",
                        {"type": "string"},
                        "The `prev` cursor of the page after: the preceding page.",
                    ),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
                        "At most.",
                    ),
                ],
                "responses": {
                    **_ok(
                        "Jobs",
                        {
                            "type": "object",
                            "properties": {
                                "filters": any_object,
                                "count": {"type": "integer"},
                                "jobs": {"type": "array", "items": _ref("Job")},
                                "next": {"type": ["string", "null"]},
                                "prev": {"type": ["string", "null"]},
                            },
                        },
                    ),
                    **_errors("400", "401"),
                },
            }
        },
        "/jobs/{job_id}": {
            "get": {
                "summary": "One job: fields, seconds in each lifecycle phase, history, full error",
                "parameters": [_JOB_ID],
                "responses": {**_ok("The job", _ref("JobDetail")), **_errors("400", "401", "404")},
            }
        },
        "/jobs/requeue": {
            "post": {
                "summary": "Re-queue every failed job the filters match: one audited action (at most 10,000)",
                "security": _CSRF,
                "requestBody": {
                    "required": False,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {p["name"]: p["schema"] for p in _JOB_FILTERS},
                            }
                        }
                    },
                },
                "responses": {
                    **_ok("Re-queued: counts, the audit id, the job ids", any_object),
                    **_errors("400", "401", "403"),
                },
            }
        },
        "/audit": {
            "get": {
                "summary": "Bulk actions and retention runs, newest first",
                "parameters": [
                    _query("before", {"type": "integer"}, "The `next` cursor: older entries."),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "At most."),
                ],
                "responses": {**_ok("Audit entries", any_object), **_errors("400", "401")},
            }
        },
        "/jobs/{job_id}/requeue": {
            "post": {
                "summary": "Re-queue a failed job (failed → queued, fresh retries) and publish it",
                "parameters": [_JOB_ID],
                "security": _CSRF,
                "responses": {**_ok("Re-queued", any_object), **_errors("400", "401", "403", "404", "409")},
            }
        },
        "/repositories": {
            "get": {
                "summary": "Repositories by name, one page: tracked branch, last warmed commit, coverage",
                "parameters": [
                    _query("after", {"type": "string"}, "The `next` name: the following page."),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "At most."),
                ],
                "responses": {**_ok("Repositories", any_object), **_errors("401")},
            },
            "post": {
                "summary": "Connect a repository (or re-connect a known one by name)",
                "security": _CSRF,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "source": {"type": "string", "description": "Local path or clone URL."},
                                    "name": {"type": "string"},
                                    "branch": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    **_ok("Connected", any_object, "201"),
                    **_ok("Re-connected or unchanged", any_object),
                    **_errors("400", "401", "403", "404"),
                },
            },
        },
        "/repositories/{name}": {
            "get": {
                "summary": "One repository and its coverage",
                "parameters": [_REPO],
                "responses": {**_ok("The repository", any_object), **_errors("401", "404")},
            }
        },
        "/repositories/{name}/full-warming": {
            "post": {
                "summary": "Trigger Full Warming: every baseline artifact again at the branch head",
                "parameters": [_REPO],
                "security": _CSRF,
                "responses": {
                    **_ok("Jobs enqueued", any_object, "202"),
                    **_errors("400", "401", "403", "404"),
                },
            }
        },
        "/repositories/{name}/disconnect": {
            "post": {
                "summary": "Stop warming a repository (its history stays)",
                "parameters": [_REPO],
                "security": _CSRF,
                "responses": {**_ok("Disconnected", any_object), **_errors("400", "401", "403", "404")},
            }
        },
        "/analytics": {
            "get": {
                "summary": "Miss patterns, miss-triggered promotions, conversion and hit rate over time",
                "parameters": [
                    _query(
                        "window_hours",
                        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WINDOW_HOURS, "default": 24},
                        "How far back.",
                    ),
                    _query(
                        "top",
                        {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                        "Rows per list.",
                    ),
                ],
                "responses": {**_ok("Analytics", any_object), **_errors("400", "401")},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "warmer console API",
            "version": "1",
            "description": (
                "Read and steer the warmer ledger. Authenticate as for the console (HTTP basic auth or "
                "the OAuth session cookie). POSTs need the CSRF token: every response sets the _xsrf "
                "cookie; send its value back in the X-XSRFToken header (or an _xsrf form field)."
            ),
        },
        "servers": [{"url": f"{base}/api/warmer"}],
        "security": [{"basic": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "session": {"type": "apiKey", "in": "cookie", "name": "user"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-XSRFToken"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
                "Job": {"type": "object", "properties": _JOB_PROPS},
                "JobDetail": {
                    "allOf": [
                        _ref("Job"),
                        {
                            "type": "object",
                            "properties": {
                                "phases_seconds": {
                                    "type": "object",
                                    "additionalProperties": {"type": "number"},
                                },
                                "events": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                    ]
                },
                "Overview": {
                    "type": "object",
                    "properties": {
                        "total_queued": {"type": "integer"},
                        "in_progress": {"type": "integer"},
                        "completed_24h": {"type": "integer"},
                        "failed_24h": {"type": "integer"},
                        "queues": {"type": "array", "items": {"type": "object"}},
                        "instances": {"type": "array", "items": {"type": "object"}},
                        "jobs_in_progress": {"type": "array", "items": _ref("Job")},
                    },
                },
            },
        },
    }
