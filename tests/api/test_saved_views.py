"""Saved views: GET|POST /api/views, DELETE /api/views/{id}."""

import pytest
from rest_framework.test import APIClient

from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db


def test_a_user_saves_lists_replaces_and_deletes_views(token_client):
    body = {
        "name": "best lora",
        "query": "tag:lora val/loss.min<1",
        "columns": ["config.lr"],
        "sort": "-val/loss.min",
        "group_by": "config.seed",
    }
    created = token_client.post("/api/views", body, format="json")
    assert created.status_code == 201
    view = created.json()
    assert view["url"] == f"/runs?view={view['id']}" and view["columns"] == ["config.lr"]
    replaced = token_client.post("/api/views", {**body, "query": "tag:lora"}, format="json")
    assert replaced.status_code == 200 and replaced.json()["id"] == view["id"]
    listed = token_client.get("/api/views").json()
    assert [v["query"] for v in listed] == ["tag:lora"]
    assert token_client.delete(f"/api/views/{view['id']}").status_code == 204
    assert token_client.get("/api/views").json() == []
    assert token_client.delete(f"/api/views/{view['id']}").status_code == 404


def test_a_view_with_a_bad_query_or_column_is_a_400_naming_it(token_client):
    response = token_client.post(
        "/api/views",
        {"name": "x", "query": "lr>=", "columns": ["config.lr", "bogus"], "sort": "-nope"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["position"] == 4 and "expected a value" in body["query"][0]
    assert "1" in body["columns"] and "sort" in body


def test_views_are_per_user_and_only_the_owner_deletes_one(token_client):
    mine = token_client.post("/api/views", {"name": "mine"}, format="json").json()
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(make_user('other'))[1]}")
    assert other.get("/api/views").json() == []
    assert other.delete(f"/api/views/{mine['id']}").status_code == 409


def test_views_need_a_signed_in_user(api_client):
    assert api_client.get("/api/views").status_code in (401, 403)
