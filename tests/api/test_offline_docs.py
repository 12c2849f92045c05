"""/docs and /redoc work without internet: every asset they load is served by the app."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient


class AssetLinks(HTMLParser):
    """The URLs a page loads: <script src>, <link href>, and ReDoc's <redoc spec-url>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "redoc": "spec-url"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def asset_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_page_loads_only_local_assets_that_the_app_serves(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = asset_urls(response.text)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, f"{page} loads no script: {urls}"
    # Nothing from elsewhere: no scheme, no protocol-relative //host.
    assert "http://" not in response.text and "https://" not in response.text
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page}: {url} is not local"
        asset = client.get(url)
        assert asset.status_code == 200, f"{page}: {url} -> {asset.status_code}"
        assert asset.content, f"{page}: {url} is empty"


def test_swagger_page_loads_its_stylesheet_and_this_apps_openapi(client: TestClient) -> None:
    html = client.get("/docs").text
    urls = asset_urls(html)
    assert any(u.endswith(".css") for u in urls)
    assert "url: '/openapi.json'" in html
    assert client.get("/docs-assets/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_oauth2_redirect_page_is_served(client: TestClient) -> None:
    response = client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text.lower()


def test_asset_folder_is_not_listed(client: TestClient) -> None:
    assert client.get("/docs-assets/").status_code == 404


def test_docs_pages_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
