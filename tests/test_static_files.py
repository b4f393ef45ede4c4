"""Static files as a production server sends them: hashed names, brotli or gzip, cached for good.

The files are collected once into a temporary STATIC_ROOT, as `make run` does, and
WhiteNoise serves only what was collected (no finders), as a server started after
`collectstatic` does.
"""

import gzip
import re

import brotli
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests.factories import make_job, make_user

HASHED = re.compile(r"\.[0-9a-f]{12}\.\w+$")
STATIC_URLS = re.compile(r"""(?:href|src)="(/static/[^"]+)\"""")
# The import forms the pages' modules use: `import … from "./x.js";`, `import "./x.js";`
# and `import("./x.js")`.
MODULE_IMPORTS = re.compile(r"""(?:from\s*|import\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """The STATIC_ROOT `collectstatic` filled; the server reads nothing else."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=root, WHITENOISE_USE_FINDERS=False):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield root


@pytest.fixture
def job_page(db, client):
    """The HTML of a job page, seen by a signed-in user."""
    client.force_login(make_user("viewer"))
    make_job(uid="static-files")
    response = client.get("/job/static-files")
    assert response.status_code == 200
    return response.content.decode()


def fetch(client, url, encoding):
    response = client.get(url, headers={"accept-encoding": encoding})
    body = b"".join(response.streaming_content)
    response.close()
    return response, body


def test_a_page_names_every_asset_by_its_hashed_name_and_each_is_served(
    collected, client, job_page
):
    urls = STATIC_URLS.findall(job_page)
    assert "/static/css/tuneboard.css" not in urls
    assert any(url.startswith("/static/css/tuneboard.") for url in urls)
    assert any(url.startswith("/static/js/job/page.") for url in urls)
    for url in urls:
        assert HASHED.search(url), f"{url} has no content hash"
        assert client.get(url).status_code == 200, url


def test_an_asset_asked_for_with_brotli_comes_back_brotli_encoded_and_immutable(
    collected, client, job_page
):
    css = next(url for url in STATIC_URLS.findall(job_page) if "/css/tuneboard." in url)
    response, body = fetch(client, css, "gzip, deflate, br")
    assert response["Content-Encoding"] == "br"
    assert response["Vary"] == "Accept-Encoding"
    assert "immutable" in response["Cache-Control"]
    assert "max-age=315360000" in response["Cache-Control"]
    source = (settings.BASE_DIR / "static/css/tuneboard.css").read_bytes()
    assert brotli.decompress(body) == source
    assert len(body) < len(source) / 3


def test_an_asset_asked_for_with_gzip_only_comes_back_gzip_encoded(collected, client, job_page):
    script = next(url for url in STATIC_URLS.findall(job_page) if "/js/job/page." in url)
    response, body = fetch(client, script, "gzip")
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    assert gzip.decompress(body) == (collected / script.removeprefix("/static/")).read_bytes()


def test_an_asset_asked_for_without_compression_comes_back_as_it_is(collected, client, job_page):
    css = next(url for url in STATIC_URLS.findall(job_page) if "/css/tuneboard." in url)
    response, body = fetch(client, css, "identity")
    assert not response.has_header("Content-Encoding")
    assert body == (collected / css.removeprefix("/static/")).read_bytes()


def test_modules_import_each_other_by_hashed_name_so_none_loads_twice(collected):
    """A module imported by its plain name would run a second time beside the hashed one
    the page preloads, with state of its own."""
    scripts = [path for path in (collected / "js").rglob("*.js") if HASHED.search(path.name)]
    assert scripts
    imports = 0
    for script in scripts:
        for specifier in MODULE_IMPORTS.findall(script.read_text()):
            imports += 1
            assert HASHED.search(specifier), f"{script.name} imports {specifier}"
            assert (script.parent / specifier).resolve().is_file(), f"{script.name}: {specifier}"
    assert imports > 20


@pytest.fixture
def job_page_uncollected(tmp_path, db, client):
    """A job page from a server whose STATIC_ROOT is empty (a fresh clone's tests)."""
    with override_settings(STATIC_ROOT=tmp_path, WHITENOISE_USE_FINDERS=True):
        client.force_login(make_user("viewer"))
        make_job(uid="plain-files")
        response = client.get("/job/plain-files")
        assert response.status_code == 200
        yield response.content.decode()


def test_without_collected_files_pages_name_the_plain_files_which_are_still_served(
    client, job_page_uncollected
):
    urls = STATIC_URLS.findall(job_page_uncollected)
    assert "/static/css/tuneboard.css" in urls
    assert "/static/js/job/page.js" in urls
    for url in urls:
        assert client.get(url).status_code == 200, url
