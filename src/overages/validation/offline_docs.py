"""Make the Data Docs site work with no network.

GX's page templates load Bootstrap (and its dark scheme), jQuery, Popper, bootstrap-table, Font Awesome and
bootstrap-datepicker from public CDNs, and the logo from an S3 address that carries the data context id.
Offline the pages are unstyled and the index's tables (drawn by bootstrap-table) are empty. `make_offline`
copies those files from the npm packages `make setup` installs (package.json pins the versions the pages name;
`npm ci` puts them in the project's node_modules/) into the site, with each package's licence, and points
every page at them; it drops the Vega scripts (only profiling charts use them; no page here does) and puts
plain text where the logo was. Where node_modules/ lacks a file (npm was missing at set-up), the pages keep
that file's CDN address and work online only. docs/data-docs-assets.md lists the packages and their licences.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SITE_VENDOR = "static/vendor"  # where the packages' files go, relative to the site's root

# Every CDN address GX 1.24's templates use, and the file inside node_modules/ that replaces it (copied to the
# same path under static/vendor/). The npm files are byte-identical to the CDN's (the SRI hashes match them).
_FILTER_CONTROL = "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min"
LOCAL = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        f"{_FILTER_CONTROL}.js",
    # The templates ask for 1.19.0's stylesheet (minified or not): 1.19.1's is the same rules.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        f"{_FILTER_CONTROL}.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        f"{_FILTER_CONTROL}.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "@fortawesome/fontawesome-free/css/all.min.css",
    # The run-time column's filter is a datepicker: without the plugin, filter-control throws and the index is empty.
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    # Bootstrap's colours for readers whose system prefers dark, which GX's own dark-mode rules assume.
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.min.css",
}  # fmt: skip
# Files the stylesheets above load in turn, as globs inside node_modules/: Font Awesome's fonts. Only the .woff2:
# all.min.css lists a .ttf after each as a fallback that browsers reading woff2 (all current ones) never fetch.
LOADED_BY_STYLESHEETS = ("@fortawesome/fontawesome-free/webfonts/*.woff2",)
DROPPED = {
    # Vega draws profiling charts; validation and expectation pages never call it.
    "https://cdn.jsdelivr.net/npm/vega@5",
    "https://cdn.jsdelivr.net/npm/vega-lite@5",
    "https://cdn.jsdelivr.net/npm/vega-embed@6",
}
LOGO_TEXT = '<span class="h4 m-0 text-body">Great Expectations</span>'

_SCRIPT = re.compile(r'(?P<indent>[ \t]*)<script\b[^>]*\bsrc="(?P<url>https?://[^"]+)"[^>]*>\s*</script>[ \t]*\n?')
_LINK = re.compile(r'(?P<indent>[ \t]*)<link\b[^>]*\bhref="(?P<url>https?://[^"]+)"[^>]*>[ \t]*\n?')
_LOGO = re.compile(r'<img\b[^>]*\bsrc="https://great-expectations-web-assets\.[^"]*"[^>]*>')
_REMOTE_CSS_URL = re.compile(r"""url\(\s*['"]?https?://[^)]*\)""")
# GX links the favicon one folder short on validation pages: point every <link> into static/ at the right depth.
_STATIC_LINK = re.compile(r'(<link\b[^>]*\bhref=")(?:\.{1,2}/)*(static/)')


def _rewrite(html: str, prefix: str, local: dict[str, str]) -> str:
    """One page's text with the assets of `local` (CDN address -> path under static/vendor/); `prefix` leads
    from the page's folder back to the site's root."""

    def tag(match: re.Match[str], template: str) -> str:
        url = match["url"]
        if url in DROPPED:
            return ""
        if url not in local:
            return match[0]
        return match["indent"] + template.format(f"{prefix}{SITE_VENDOR}/{local[url]}") + "\n"

    html = _SCRIPT.sub(lambda m: tag(m, '<script src="{}"></script>'), html)
    html = _LINK.sub(lambda m: tag(m, '<link rel="stylesheet" href="{}">'), html)
    html = _LOGO.sub(LOGO_TEXT, html)
    html = _REMOTE_CSS_URL.sub("none", html)
    return _STATIC_LINK.sub(lambda m: f"{m[1]}{prefix}{m[2]}", html)


def node_modules() -> Path:
    """Where `make setup` installs the npm packages: node_modules/ in the dbt project's folder."""
    from overages.warehouse import PROJECT_DIR

    return PROJECT_DIR / "node_modules"


def package_of(path: str) -> str:
    """The npm package a path inside node_modules/ belongs to: its first folder, or two for a @scope."""
    parts = path.split("/")
    return "/".join(parts[:2] if parts[0].startswith("@") else parts[:1])


def asset_files(modules: Path) -> list[str]:
    """The files to copy, as paths inside `modules`: those the pages name, what their stylesheets load, and
    each package's licence files. Only files that are there (none when npm did not run)."""
    wanted = set(LOCAL.values())
    wanted |= {str(p.relative_to(modules)) for pattern in LOADED_BY_STYLESHEETS for p in modules.glob(pattern)}
    for package in {package_of(path) for path in LOCAL.values()}:
        # popper.js 1.12.9 ships no licence file: its notice is the comment at the head of popper.min.js.
        wanted |= {str(p.relative_to(modules)) for p in (modules / package).glob("LICEN[CS]E*")}
    return sorted(path for path in wanted if (modules / path).is_file())


def make_offline(site_dir: Path, modules: Path | None = None) -> None:
    """Copy the packages' files from `modules` (default: `node_modules()`) into `site_dir`/static/vendor and
    make every page under `site_dir` use them.

    Pages then ask no outside host for anything (links to documentation stay links); an address whose file
    `modules` lacks keeps pointing at its CDN. Running it again on a site it has already rewritten changes
    nothing.
    """
    modules = node_modules() if modules is None else modules
    copied = asset_files(modules)
    for path in copied:
        target = site_dir / SITE_VENDOR / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(modules / path, target)
    local = {url: path for url, path in LOCAL.items() if path in copied}
    for page in sorted(site_dir.rglob("*.html")):
        depth = len(page.relative_to(site_dir).parts) - 1
        text = page.read_text(encoding="utf-8")
        fresh = _rewrite(text, "../" * depth, local)
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
