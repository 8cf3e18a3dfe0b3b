"""Data Docs work with no network: after a validation no page asks an outside host for anything, every local
file a page names is there, rewriting twice changes nothing, and (where Chromium is installed) the index's
table is drawn by its JavaScript with every outside host unreachable."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from conftest import raw_file, run_cli
from overages.validation.offline_docs import LOCAL, make_offline, node_modules, package_of
from overages.validation.runner import validate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]  # fmt: skip
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""")


class _Assets(HTMLParser):
    """Collects the addresses a page loads: src and href of its script, link and img tags."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "img"):
            self.found += [value for name, value in attrs if name in ("src", "href") and value]


def assets(page: Path) -> list[str]:
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.found


def local_file(base: Path, address: str) -> Path:
    return (base / address.split("#")[0].split("?")[0]).resolve()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("offline") / "warehouse.duckdb"
    run_cli("demo", "--orgs", "5", "--months", "1", warehouse=path)
    run_cli("build", "--skip-validate", warehouse=path)
    con = duckdb.connect(str(raw_file(path)), read_only=True)  # the build file: the published one has no raw
    try:
        report = validate(con, path.parent / "project")
    finally:
        con.close()
    return report.data_docs.parent


def test_data_docs_need_no_network(site: Path, tmp_path: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    depths = {len(page.relative_to(site).parts) for page in pages}
    assert site / "index.html" in pages and depths == {1, 2, 5}, depths  # index, expectations/, validations/
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""url\(\s*['"]?(https?:)?//""", text), page
        for address in assets(page):
            assert not re.match(r"(https?:)?//", address), f"{page.relative_to(site)} loads {address}"
            if not address.startswith("data:"):
                target = local_file(page.parent, address)
                assert target.is_file() and target.is_relative_to(site), f"{page.relative_to(site)}: {address}"
    # The vendored stylesheets' own files (fonts) are there too; .ttf is a fallback woff2 readers never fetch.
    for sheet in (site / "static" / "vendor").rglob("*.css"):
        for address in _CSS_URL.findall(sheet.read_text(encoding="utf-8")):
            if not address.startswith("data:") and not address.endswith(".ttf"):
                assert local_file(sheet.parent, address).is_file(), f"{sheet.name}: {address}"

    if CHROMIUM.exists():  # render the index as a browser would, with every outside host unresolvable
        done = subprocess.run(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom",
             (site / "index.html").as_uri()],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        # Rows exist only once bootstrap-table has drawn them from the page's data.
        assert re.search(r'<tr[^>]*data-href="validations/price_consistency/[^"]+\.html"', done.stdout)
        assert re.search(r'<tr[^>]*data-href="expectations/price_consistency\.html"', done.stdout)
        assert "Uncaught" not in done.stderr, done.stderr[-2000:]


def test_make_offline_twice_changes_nothing(site: Path) -> None:
    before = {path: path.read_bytes() for path in site.rglob("*") if path.is_file()}
    make_offline(site)
    after = {path: path.read_bytes() for path in site.rglob("*") if path.is_file()}
    assert after == before


_PAGE = """<html><head>
    <link href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css" rel="stylesheet">
    <script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
</head><body></body></html>
"""


def test_without_the_npm_packages_pages_keep_their_cdn_addresses(tmp_path: Path) -> None:
    site, empty = tmp_path / "site", tmp_path / "no_node_modules"
    site.mkdir()
    empty.mkdir()
    (site / "index.html").write_text(_PAGE, encoding="utf-8")
    make_offline(site, empty)
    assert (site / "index.html").read_text(encoding="utf-8") == _PAGE
    assert not (site / "static").exists()


def test_the_npm_packages_replace_the_cdn_with_their_licences(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(_PAGE, encoding="utf-8")
    make_offline(tmp_path, node_modules())
    found = assets(tmp_path / "index.html")
    assert found == ["static/vendor/bootstrap/dist/css/bootstrap.min.css", "static/vendor/jquery/dist/jquery.min.js"]
    vendor = tmp_path / "static" / "vendor"
    # Each package's own licence travels with its files; popper.js has none beyond the header of its files.
    licences = sorted(str(p.relative_to(vendor)) for p in vendor.rglob("LICEN*"))
    assert licences == ["@forevolve/bootstrap-dark/LICENSE", "@fortawesome/fontawesome-free/LICENSE.txt",
                        "bootstrap-datepicker/LICENSE", "bootstrap-table/LICENSE", "bootstrap/LICENSE",
                        "jquery/LICENSE.txt"]  # fmt: skip
    packages = {package_of(path) for path in LOCAL.values()}
    assert packages == {name.rsplit("/", 1)[0] for name in licences} | {"popper.js"}
