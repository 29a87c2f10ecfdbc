"""/docs is answered by claimd alone: the page and everything it loads come from the package (issue 21),
so the API docs render on a host without internet access."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

from claimd.config import Settings
from claimd.entrypoints.http.app import create_app

#: Anything that leaves the origin: a scheme URL or a protocol-relative one.
OFF_ORIGIN = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]*:)?//")
#: A quoted string literal in the inline script that is a path.
PATH_LITERAL = re.compile(r"""(['"])(/[^'"]*)\1""")


class Refs(HTMLParser):
    """The URLs of script src and link href, and the text of inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append((tag, value))
        self._in_script = tag == "script" and not dict(attrs).get("src")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline.append(data)


@pytest.fixture
async def client():
    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://claimd.test") as c:
        yield c


async def test_every_request_of_the_docs_page_is_answered_by_claimd(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    refs = Refs()
    refs.feed(page.text)
    inline = "\n".join(refs.inline)
    assert not OFF_ORIGIN.search(page.text), f"/docs points off the origin: {OFF_ORIGIN.findall(page.text)}"
    urls = {url for _, url in refs.urls} | {m.group(2) for m in PATH_LITERAL.finditer(inline)}
    tags = {tag for tag, _ in refs.urls}
    assert {"script", "link"} <= tags and "/openapi.json" in urls and len(urls) >= 5, urls
    for url in sorted(urls):
        split = urlsplit(url)
        assert not split.scheme and not split.netloc and url.startswith("/"), url
        response = await client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        kind = response.headers["content-type"]
        if url.endswith(".js"):
            assert "javascript" in kind, (url, kind)
        elif url.endswith(".css"):
            assert kind.startswith("text/css"), (url, kind)
        elif url.endswith(".png"):
            assert kind == "image/png" and response.content.startswith(b"\x89PNG"), (url, kind)
        elif url == "/openapi.json":
            assert kind == "application/json" and response.json()["info"]["title"] == "claimd"
        else:
            assert kind.startswith("text/html"), (url, kind)
        if url.endswith((".js", ".css", ".png")):
            assert "max-age=31536000" in response.headers["cache-control"], url
    js = [url for tag, url in refs.urls if tag == "script"]
    bundle = (await client.get(js[0])).content
    assert len(bundle) > 1_000_000 and b"SwaggerUIBundle" in bundle[:2000], "not the real swagger-ui-bundle.js"
    css = next(url for tag, url in refs.urls if url.endswith(".css"))
    assert b".swagger-ui" in (await client.get(css)).content


async def test_only_the_vendored_assets_are_served_and_the_input_rule_still_applies(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404  # ReDoc is not vendored: off
    page = (await client.get("/docs")).text
    bundle = re.search(r'src="([^"]+)"', page).group(1)
    base = bundle.rsplit("/", 1)[0]
    for other in ("LICENSE", "VERSION", "README.md", "..%2F..%2Fapp.py", "swagger-ui-bundle.js.map"):
        assert (await client.get(f"{base}/{other}")).status_code == 404, other
    assert (await client.get("/docs/assets/0.0.0/swagger-ui.css")).status_code == 404  # another version
    assert (await client.get(bundle, params={"q": "\x00"})).status_code == 400  # InputRule still first
