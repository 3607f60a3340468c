"""api_inventory read from git objects: routes of each framework with method, path, handler and line,
OpenAPI/GraphQL/proto contracts, broken files, reuse by blob and determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, make_repo, write
from warmer.artifacts.api_inventory import ApiInventory


def run(repo: Path, cache: Any = None) -> tuple[dict[str, Any], dict[str, int]]:
    ctx = generation_context(repo, cache=cache)
    result = ApiInventory().generate(ctx)
    assert len(result.entries) == 1 and result.entries[0].path == ""
    assert result.entries[0].source_hash == ctx.snapshot.tree_id
    return result.entries[0].payload, result.calls


def routes_of(payload: dict[str, Any], file: str) -> set[tuple[Any, ...]]:
    return {
        (r["method"], r["path"], r["handler"], r["framework"], r["line"])
        for r in payload["routes"]
        if r["file"] == file
    }


FLASK_APP = """\
from flask import Flask, Blueprint

app = Flask(__name__)
bp = Blueprint("users", __name__, url_prefix="/users")


@app.route("/")
def index():
    return "hi"


@app.route("/login", methods=["GET", "POST"])
def login():
    return "form"


@bp.get("/<int:user_id>")
def show_user(user_id):
    return str(user_id)


@bp.delete("/<int:user_id>")
def delete_user(user_id):
    return ""


def health():
    return "ok"


app.add_url_rule("/health", "health", health, methods=["HEAD"])
cache = {}
cache.get("/not-a-route")
"""

FASTAPI_APP = """\
from fastapi import APIRouter, FastAPI

app = FastAPI()
router = APIRouter(prefix="/items", tags=["items"])


@router.get("/")
async def list_items():
    return []


@router.post("/{item_id}")
async def create_item(item_id: int):
    return {}


@app.api_route("/ping", methods=["GET", "HEAD"])
def ping():
    return "pong"


@app.websocket("/ws")
async def ws(websocket):
    pass


class Views:
    @app.put("/things/{thing_id}")
    def put_thing(self, thing_id: int):
        return thing_id
"""

DJANGO_ROOT = """\
from django.contrib import admin
from django.urls import include, path, re_path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("blog/", include("blog.urls")),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.ArchiveView.as_view()),
    path("admin/", admin.site.urls),
]
"""

DJANGO_BLOG = """\
from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("<slug:slug>/", views.detail, name="detail"),
]
"""

EXPRESS_APP = """\
const express = require('express');
const app = express();
const router = express.Router();

// app.get('/commented', old);
app.get('/health', (req, res) => res.send('ok'));
router.post('/users', auth, users.create);
router.delete('/users/:id', users.remove);
app.all('/any', catchAll);
const url = "app.get('/in-string', x)";
"""

KOA_ROUTES = """\
import Router from '@koa/router';
import { list } from './handlers';

const router = new Router();
router.get('/items', list);
router.put('/items/:id', update as any);
export default router;
"""

GO_NET_HTTP = """\
package main

import (
\t"net/http"
)

func main() {
\tmux := http.NewServeMux()
\thttp.HandleFunc("/hello", hello)
\tmux.Handle("/static/", http.FileServer(http.Dir(".")))
\tmux.HandleFunc("GET /items/{id}", api.getItem)
\t// mux.HandleFunc("/gone", gone)
}
"""

GO_GIN = """\
package server

import "github.com/gin-gonic/gin"

func Routes(r *gin.Engine) {
\tr.GET("/ping", ping)
\tv1 := r.Group("/v1")
\tv1.POST("/login", auth.Login)
\tadmin := v1.Group("/admin")
\tadmin.DELETE(`/users/:id`, func(c *gin.Context) {})
}
"""

SPRING = """\
package com.example;

import org.springframework.web.bind.annotation.*;

@RestController
@RequestMapping("/api/orders")
public class OrderController {
    @GetMapping
    public List<Order> all() { return null; }

    @GetMapping("/{id}")
    public Order one(@PathVariable long id) { return null; }

    @PostMapping(value = "/", consumes = "application/json")
    public Order create(@RequestBody Order o) { return o; }

    @RequestMapping(path = {"/a", "/b"}, method = {RequestMethod.PUT, RequestMethod.PATCH})
    public void update() {}

    public void notARoute() {}
}
"""

OPENAPI_YAML = """\
openapi: 3.0.3
info:
  title: Pets
  version: "1"
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
    post:
      operationId: createPet
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
    get:
      operationId: showPetById
"""

SWAGGER_JSON = json.dumps(
    {"swagger": "2.0", "info": {"title": "t"}, "paths": {"/users": {"delete": {"operationId": "dropUsers"}}}},
    indent=2,
)

GRAPHQL = '''\
"""The root."""
type Query {
  # a comment: fake(x: Int): Int
  user(id: ID!): User
  users(
    first: Int = 10
    after: String
  ): [User!]!
}

type User {
  id: ID!
  name: String
}

extend type Mutation {
  createUser(name: String!): User @deprecated(reason: "use signUp")
}
'''

PROTO = """\
syntax = "proto3";
package shop.v1;

// service Fake { rpc Nope(A) returns (B); }
service Orders {
  rpc GetOrder(GetOrderRequest) returns (Order);
  rpc Watch(stream WatchRequest) returns (stream Event) {}
}
"""


def _corpus(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "apis",
        {
            "web/app.py": FLASK_APP,
            "svc/main.py": FASTAPI_APP,
            "site/urls.py": DJANGO_ROOT,
            "blog/urls.py": DJANGO_BLOG,
            "js/app.js": EXPRESS_APP,
            "js/routes.ts": KOA_ROUTES,
            "go/main.go": GO_NET_HTTP,
            "go/server.go": GO_GIN,
            "java/OrderController.java": SPRING,
            "spec/openapi.yaml": OPENAPI_YAML,
            "spec/swagger.json": SWAGGER_JSON,
            "schema/schema.graphql": GRAPHQL,
            "proto/orders.proto": PROTO,
            "broken.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/x')\ndef oops(:\n",
            "config.yaml": "name: not an api\npaths: [a]\n",
            "data.json": b"\xff\xfe\x00binary",
            "README.md": "app.get('/x')",
        },
    )


def test_flask_routes_with_blueprint_prefix_and_add_url_rule(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    assert routes_of(payload, "web/app.py") == {
        ("GET", "/", "index", "flask", 7),
        ("GET", "/login", "login", "flask", 12),
        ("POST", "/login", "login", "flask", 12),
        ("GET", "/users/<int:user_id>", "show_user", "flask", 17),
        ("DELETE", "/users/<int:user_id>", "delete_user", "flask", 22),
        ("HEAD", "/health", "health", "flask", 31),
    }


def test_fastapi_routes_with_router_prefix(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    assert routes_of(payload, "svc/main.py") == {
        ("GET", "/items/", "list_items", "fastapi", 7),
        ("POST", "/items/{item_id}", "create_item", "fastapi", 12),
        ("GET", "/ping", "ping", "fastapi", 17),
        ("HEAD", "/ping", "ping", "fastapi", 17),
        ("WEBSOCKET", "/ws", "ws", "fastapi", 22),
        ("PUT", "/things/{thing_id}", "Views.put_thing", "fastapi", 28),
    }


def test_django_urls_served_paths_and_methods(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    root = [r for r in payload["routes"] if r["file"] == "site/urls.py"]
    assert [(r["method"], r["path"], r["handler"], r["line"]) for r in root] == [
        ("ANY", "/", "views.home", 7),
        ("ANY", "/archive/{year}/", "views.ArchiveView.as_view()", 9),
    ]
    blog = [r for r in payload["routes"] if r["file"] == "blog/urls.py"]
    assert [(r["method"], r["path"], r["declared_path"], r["line"]) for r in blog] == [
        ("ANY", "/blog/", "", 6),
        ("ANY", "/blog/{slug}/", "<slug:slug>/", 7),
    ]
    assert {
        "file": "site/urls.py",
        "line": 10,
        "reason": "mounted router not found in this commit: admin.site",
    } in (payload["unresolved"])


def test_express_and_koa_routes(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    assert routes_of(payload, "js/app.js") == {
        ("GET", "/health", None, "express", 6),
        ("POST", "/users", "users.create", "express", 7),
        ("DELETE", "/users/:id", "users.remove", "express", 8),
        ("ANY", "/any", "catchAll", "express", 9),
    }
    assert routes_of(payload, "js/routes.ts") == {
        ("GET", "/items", "list", "koa", 5),
        ("PUT", "/items/:id", None, "koa", 6),
    }


def test_go_net_http_and_gin_groups(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    assert routes_of(payload, "go/main.go") == {
        ("ANY", "/hello", "hello", "net/http", 9),
        ("ANY", "/static/", None, "net/http", 10),
        ("GET", "/items/{id}", "api.getItem", "net/http", 11),
    }
    assert routes_of(payload, "go/server.go") == {
        ("GET", "/ping", "ping", "gin", 6),
        ("POST", "/v1/login", "auth.Login", "gin", 8),
        ("DELETE", "/v1/admin/users/:id", None, "gin", 10),
    }


def test_spring_class_prefix_and_request_mapping(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    assert routes_of(payload, "java/OrderController.java") == {
        ("GET", "/api/orders", "OrderController.all", "spring", 8),
        ("GET", "/api/orders/{id}", "OrderController.one", "spring", 11),
        ("POST", "/api/orders", "OrderController.create", "spring", 14),
        ("PUT", "/api/orders/a", "OrderController.update", "spring", 17),
        ("PATCH", "/api/orders/a", "OrderController.update", "spring", 17),
        ("PUT", "/api/orders/b", "OrderController.update", "spring", 17),
        ("PATCH", "/api/orders/b", "OrderController.update", "spring", 17),
    }


def test_contracts_openapi_graphql_proto(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    contracts = payload["contracts"]
    openapi = [
        (c["method"], c["path"], c["operation_id"], c["line"], c["file"])
        for c in contracts
        if c["kind"] == "openapi"
    ]
    assert openapi == [
        ("GET", "/pets", "listPets", 7, "spec/openapi.yaml"),
        ("POST", "/pets", "createPet", 10, "spec/openapi.yaml"),
        ("GET", "/pets/{petId}", "showPetById", 16, "spec/openapi.yaml"),
        ("DELETE", "/users", "dropUsers", 8, "spec/swagger.json"),
    ]
    first = next(c for c in contracts if c["kind"] == "openapi")
    assert first["spec"] == "openapi 3.0.3" and first["summary"] == "List pets"
    assert [c["kind"] for c in contracts if c["file"] == "spec/swagger.json"] == ["openapi"]
    assert next(c for c in contracts if c["file"] == "spec/swagger.json")["spec"] == "swagger 2.0"
    graphql = [
        (c["operation"], c["name"], c["returns"], c["line"]) for c in contracts if c["kind"] == "graphql"
    ]
    assert graphql == [
        ("query", "user", "User", 4),
        ("query", "users", "[User!]!", 5),
        ("mutation", "createUser", "User", 17),
    ]
    grpc = [c for c in contracts if c["kind"] == "grpc"]
    assert [(c["service"], c["method"], c["request"], c["response"], c["line"]) for c in grpc] == [
        ("shop.v1.Orders", "GetOrder", "GetOrderRequest", "Order", 6),
        ("shop.v1.Orders", "Watch", "WatchRequest", "Event", 7),
    ]
    assert (grpc[1]["client_streaming"], grpc[1]["server_streaming"]) == (True, True)
    assert (grpc[0]["client_streaming"], grpc[0]["server_streaming"]) == (False, False)


def test_broken_and_binary_files_are_reported_and_the_rest_inventoried(tmp_path: Path) -> None:
    payload, _ = run(_corpus(tmp_path))
    assert [e["path"] for e in payload["errors"]] == ["broken.py"]
    assert payload["errors"][0]["error"].startswith("SyntaxError")
    assert {"path": "data.json", "reason": "binary"} in payload["skipped"]
    assert not any(r["file"] in ("broken.py", "config.yaml", "README.md") for r in payload["routes"])
    assert payload["frameworks"] == {
        "django": 4,
        "express": 4,
        "fastapi": 6,
        "flask": 6,
        "gin": 3,
        "graphql": 3,
        "grpc": 2,
        "koa": 2,
        "net/http": 3,
        "openapi": 4,
        "spring": 7,
    }


def test_reuse_by_blob_and_determinism(tmp_path: Path) -> None:
    repo = _corpus(tmp_path)
    cache = CountingCache()
    first, calls = run(repo, cache)
    assert calls == {"extracted": 16, "reused": 0}
    again, calls = run(repo, cache)
    assert calls == {"extracted": 0, "reused": 16} and again == first
    assert json.dumps(first, sort_keys=True) == json.dumps(run(repo)[0], sort_keys=True)

    write(repo, {"web/app.py": FLASK_APP.replace('"/login"', '"/signin"')})
    commit(repo, "rename login")
    second, calls = run(repo, cache)
    assert calls == {"extracted": 1, "reused": 15}
    assert ("POST", "/signin", "login", "flask", 12) in routes_of(second, "web/app.py")
    assert routes_of(second, "svc/main.py") == routes_of(first, "svc/main.py")


def served(payload: dict[str, Any], framework: str) -> set[tuple[str, str]]:
    return {(r["method"], r["path"]) for r in payload["routes"] if r["framework"] == framework}


def test_prefixes_joined_across_modules_and_functions(tmp_path: Path) -> None:
    """Flask blueprints registered elsewhere (a module that never names Flask), FastAPI routers
    included from another module, Express routers mounted by import, Go groups passed into
    functions, chi Route/Mount, axum nest, actix scope: the full served path, and test files marked."""
    repo = make_repo(
        tmp_path / "composed",
        {
            "shop/__init__.py": "from .blueprints import shop_bp\n",
            "shop/blueprints.py": "from flask import Blueprint\nshop_bp = Blueprint('shop', __name__)\n",
            "shop/views.py": "from .blueprints import shop_bp\n\n@shop_bp.route('/cart', methods=['POST'])\ndef cart():\n    pass\n",
            "app.py": "from flask import Flask\nfrom shop import shop_bp\napp = Flask(__name__)\n"
            "app.register_blueprint(shop_bp, url_prefix='/shop')\n",
            "api/items.py": "from fastapi import APIRouter\nrouter = APIRouter(prefix='/items')\n\n"
            "@router.get('/{item_id}')\ndef item(item_id: int):\n    pass\n",
            "api/main.py": "from fastapi import FastAPI\nfrom api.items import router as items\napp = FastAPI()\n"
            "app.include_router(items, prefix='/v1')\n",
            "web/users.js": "const express = require('express');\nconst router = express.Router();\n"
            "router.get('/:id', show);\nmodule.exports = router;\n",
            "web/server.js": "const express = require('express');\nconst users = require('./users');\n"
            "const app = express();\napp.use('/users', users);\n",
            "srv/routes.go": 'package srv\n\nimport "github.com/gin-gonic/gin"\n\n'
            'func Register(g *gin.RouterGroup) {\n\tg.GET("/ping", ping)\n}\n',
            "srv/main.go": 'package srv\n\nimport "github.com/gin-gonic/gin"\n\n'
            'func Run() {\n\tr := gin.New()\n\tv1 := r.Group("/v1")\n\tRegister(v1)\n}\n',
            "ch/main.go": 'package main\n\nimport "github.com/go-chi/chi/v5"\n\n'
            'func main() {\n\tr := chi.NewRouter()\n\tr.Route("/articles", func(r chi.Router) {\n'
            '\t\tr.Get("/{id}", get)\n\t})\n\tr.Mount("/admin", admin())\n}\n\n'
            'func admin() chi.Router {\n\tr := chi.NewRouter()\n\tr.Post("/users", add)\n\treturn r\n}\n',
            "rs/main.rs": "use axum::{routing::get, Router};\n\nfn api() -> Router {\n"
            '    Router::new().route("/users", get(list).post(create))\n}\n\n'
            'fn app() -> Router {\n    Router::new().nest("/api", api())\n}\n',
            "rs/web.rs": 'use actix_web::{get, web, App};\n\n#[get("/show")]\nasync fn show() {}\n\n'
            'fn app() {\n    App::new().service(web::scope("/s").service(show));\n}\n',
            "tests/test_app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/fixture')\ndef f():\n    pass\n",
            "legacy.py": "import bottle\n",
        },
    )
    payload, _ = run(repo)
    assert served(payload, "flask") == {("POST", "/shop/cart"), ("GET", "/fixture")}
    assert served(payload, "fastapi") == {("GET", "/v1/items/{item_id}")}
    assert served(payload, "express") == {("GET", "/users/:id")}
    assert served(payload, "gin") == {("GET", "/v1/ping")}
    assert served(payload, "chi") == {("GET", "/articles/{id}"), ("POST", "/admin/users")}
    assert served(payload, "axum") == {("GET", "/api/users"), ("POST", "/api/users")}
    assert served(payload, "actix-web") == {("GET", "/s/show")}
    fixture = next(r for r in payload["routes"] if r["path"] == "/fixture")
    assert fixture["in_tests"] is True and payload["routes_in_tests"] == 1
    assert not any(r["in_tests"] for r in payload["routes"] if r["path"] != "/fixture")
    assert payload["frameworks"]["flask"] == 1  # the test file's route is not counted as served
    assert payload["unsupported"] == [{"path": "legacy.py", "framework": "bottle"}]


DRF_URLS = """\
from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter
from .views import ArticleViewSet, feed, Profile

router = DefaultRouter()
router.register(r"articles", ArticleViewSet)

urlpatterns = [
    re_path(r"^api/", include([re_path(r"^articles/feed/?$", feed), path("profiles/<str:username>", Profile.as_view())])),
    path("v2/", include(router.urls)),
]
"""

DRF_VIEWS = """\
from django.views.decorators.http import require_http_methods
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.views import APIView


@require_http_methods(["GET"])
def feed(request):
    pass


class Profile(APIView):
    def get(self, request, username):
        pass

    def post(self, request, username):
        pass


class ArticleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "slug"

    @action(detail=True, methods=["post"])
    def favorite(self, request, slug=None):
        pass
"""


def test_django_include_templates_methods_and_drf_router(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "dj", {"conduit/urls.py": DRF_URLS, "conduit/views.py": DRF_VIEWS})
    payload, _ = run(repo)
    assert served(payload, "django") == {
        ("GET", "/api/articles/feed/"),
        ("GET", "/api/profiles/{username}"),
        ("POST", "/api/profiles/{username}"),
        ("GET", "/v2/"),
        ("GET", "/v2/articles/"),
        ("GET", "/v2/articles/{slug}/"),
        ("POST", "/v2/articles/{slug}/favorite/"),
    }


def test_what_could_not_be_joined_is_said(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "partial",
        {
            "app.py": "from flask import Flask\nfrom plugins import extra\napp = Flask(__name__)\n"
            "app.register_blueprint(extra, url_prefix=PREFIX)\n",
            "bad.go": 'package main\n\nimport "github.com/gin-gonic/gin"\n\nfunc main() {\n\tr := gin.New(\n\tr.GET("/x", h)\n}\n',
        },
    )
    payload, _ = run(repo)
    assert {
        "file": "app.py",
        "line": 4,
        "reason": "mounted router not found in this commit: extra",
    } in payload["unresolved"]
    error = next(e for e in payload["errors"] if e["path"] == "bad.go")
    assert error["line"] is not None and "syntax error" in error["error"]


def test_test_doubles_patched_by_dotted_name_are_not_routes() -> None:
    """Django's own test suite (tests/admin_views/test_multidb.py) patches with `@mock.patch("a.b")`:
    a decorator named like an HTTP verb whose argument is no URL rule (Flask and Starlette refuse a
    rule without a leading slash). Taking it for a PATCH route once broke file_summary on Django."""
    from warmer.artifacts.api_inventory import extract_api

    source = b"""from unittest import mock

from flask import Blueprint

bp = Blueprint("b", __name__)


class Tests:
    @mock.patch("django.contrib.admin.options.transaction")
    def test_add_view(self, transaction):
        pass


@bp.patch("/items/<int:item>")
def patch_item(item):
    return ""
"""
    routes = extract_api("python", source, 1_000_000)["routes"]
    assert [(r["method"], r["path"], r["handler"]) for r in routes] == [
        ("PATCH", "/items/<int:item>", "patch_item")
    ]
