"""Make the Data Docs site work with no network.

GX's page templates load Bootstrap (and its dark scheme), jQuery, Popper, bootstrap-table, Font Awesome and
bootstrap-datepicker from public CDNs, and the logo from an S3 address that carries the data context id.
Offline the pages are unstyled and the index's tables (drawn by bootstrap-table) are empty. `make_offline`
copies the files vendored in `vendor/` (see its README) into the site and points every page at them, drops
the Vega scripts (only profiling charts use them; no page here does), and puts plain text where the logo was.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

VENDOR = Path(__file__).with_name("vendor")
SITE_VENDOR = "static/vendor"  # where the vendored files go, relative to the site's root

# Every CDN address GX 1.24's templates use, and the vendored file (under vendor/) that replaces it.
# The npm files are byte-identical to the CDN's (the templates' SRI hashes match them).
_FILTER_CONTROL = "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min"
LOCAL = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/umd/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        f"{_FILTER_CONTROL}.js",
    # The templates ask for 1.19.0's stylesheet (minified or not): 1.19.1's is the same rules.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        f"{_FILTER_CONTROL}.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        f"{_FILTER_CONTROL}.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-free/css/all.min.css",
    # The run-time column's filter is a datepicker: without the plugin, filter-control throws and the index is empty.
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/js/bootstrap-datepicker.min.js",
    # Bootstrap's colours for readers whose system prefers dark, which GX's own dark-mode rules assume.
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark/css/bootstrap-prefers-dark.min.css",
}  # fmt: skip
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


def _rewrite(html: str, prefix: str) -> str:
    """One page's text with local assets; `prefix` leads from the page's folder back to the site's root."""

    def tag(match: re.Match[str], template: str) -> str:
        url = match["url"]
        if url in DROPPED:
            return ""
        if url not in LOCAL:
            return match[0]
        return match["indent"] + template.format(f"{prefix}{SITE_VENDOR}/{LOCAL[url]}") + "\n"

    html = _SCRIPT.sub(lambda m: tag(m, '<script src="{}"></script>'), html)
    html = _LINK.sub(lambda m: tag(m, '<link rel="stylesheet" href="{}">'), html)
    html = _LOGO.sub(LOGO_TEXT, html)
    html = _REMOTE_CSS_URL.sub("none", html)
    return _STATIC_LINK.sub(lambda m: f"{m[1]}{prefix}{m[2]}", html)


def make_offline(site_dir: Path) -> None:
    """Copy the vendored assets into `site_dir`/static/vendor and make every page under `site_dir` use them.

    Pages then ask no outside host for anything (links to documentation stay links). Running it again on a
    site it has already rewritten changes nothing.
    """
    shutil.copytree(VENDOR, site_dir / SITE_VENDOR, dirs_exist_ok=True)
    for page in sorted(site_dir.rglob("*.html")):
        depth = len(page.relative_to(site_dir).parts) - 1
        text = page.read_text(encoding="utf-8")
        fresh = _rewrite(text, "../" * depth)
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
