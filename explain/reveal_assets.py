"""reveal.js for the HTML slides, kept inside the environment so a lecture needs no network.

    $ npm pack reveal.js@6.0.1                                  # what scripts/setup.sh runs
    $ .venv/bin/python -m explain.reveal_assets reveal.js-6.0.1.tgz
    .venv/share/explain/reveal.js-6.0.1

manim-slides writes slides that load reveal.js from a CDN. With the local copy installed,
:func:`explain.render.render_scene` points them at :data:`PLACEHOLDER` instead and
:func:`inline` replaces every such stylesheet and script by its content: one HTML file that plays
offline. Without it the slides keep the CDN links (and the renderer says so).
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import tarfile
from pathlib import Path

__all__ = ["inline", "install", "installed", "INTEGRITY", "local_copy", "PLACEHOLDER", "VERSION"]

#: The reveal.js release the slides are made for (manim-slides 5.7's own default).
VERSION = "6.0.1"
#: The npm registry's integrity string for that release's package.
INTEGRITY = "sha512-9eacArNIgqO2HGWOK+93gJNn+gvdGDVbSq+i2u3Ja9kjiHps0XNLpgYTZTYjKRH91uXy3clGimeGiw4umHG/tg=="
#: The asset prefix the converted HTML is given, so that :func:`inline` knows what to replace.
PLACEHOLDER = "explain-reveal.js"

_LINK = re.compile(rf'<link\b[^>]*\bhref="{re.escape(PLACEHOLDER)}/(?P<path>[^"]+)"[^>]*>')
_SCRIPT = re.compile(rf'<script\b[^>]*\bsrc="{re.escape(PLACEHOLDER)}/(?P<path>[^"]+)"[^>]*>\s*</script>')


def local_copy() -> Path:
    """Where this environment keeps reveal.js: ``<venv>/share/explain/reveal.js-<VERSION>``."""
    return Path(sys.prefix) / "share" / "explain" / f"reveal.js-{VERSION}"


def installed(root: Path | None = None) -> bool:
    """True if ``root`` (default :func:`local_copy`) holds reveal.js's ``dist`` folder."""
    return ((root or local_copy()) / "dist" / "reveal.js").is_file()


def install(tarball: Path, root: Path | None = None) -> Path:
    """Check ``tarball`` (npm's package file) against :data:`INTEGRITY`, then unpack its ``dist``
    folder and licence into ``root`` (default :func:`local_copy`); returns ``root``.

    >>> install(Path("missing.tgz"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: missing.tgz: no such reveal.js package file
    """
    root = root or local_copy()
    if not tarball.is_file():
        raise FileNotFoundError(f"{tarball}: no such reveal.js package file")
    algorithm, _, expected = INTEGRITY.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        raise ValueError(f"{tarball} is not reveal.js {VERSION} as the registry published it ({algorithm} differs)")
    with tarfile.open(tarball) as archive:
        members = [
            member for member in archive.getmembers()
            if member.isfile() and (member.name.startswith("package/dist/") or member.name == "package/LICENSE")
        ]
        for member in members:
            member.name = member.name.removeprefix("package/")
        archive.extractall(root, members=members, filter="data")  # no links, nothing outside root
    return root


def inline(html: str, root: Path) -> str:
    """``html`` with each stylesheet and script under :data:`PLACEHOLDER` replaced by the file's
    content from ``root``.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "dist").mkdir()
    >>> _ = (root / "dist" / "a.css").write_text("p {}"); _ = (root / "dist" / "a.js").write_text("go()")
    >>> print(inline(f'<link rel="stylesheet" href="{PLACEHOLDER}/dist/a.css"><script src="{PLACEHOLDER}/dist/a.js"></script>', root))
    <style>p {}</style><script>go()</script>
    """

    def content(match: re.Match) -> str:
        path = root / match["path"]
        if not path.is_file():
            raise FileNotFoundError(f"the slides need {match['path']}, which {root} does not hold")
        return path.read_text(encoding="utf-8")

    html = _LINK.sub(lambda match: f"<style>{content(match)}</style>", html)
    # "</script" inside a script would end it early; "<\/script" means the same to JavaScript
    return _SCRIPT.sub(lambda match: "<script>" + content(match).replace("</script", r"<\/script") + "</script>", html)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m explain.reveal_assets reveal.js-VERSION.tgz")
    print(install(Path(sys.argv[1])))
