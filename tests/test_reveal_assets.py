"""reveal.js kept in the environment: checked on install, inlined into the slides."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile

import pytest

from explain import reveal_assets


def _package(tmp_path, files: dict[str, bytes]):
    path = tmp_path / "reveal.js.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    digest = base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    return path, "sha512-" + digest


def test_install_unpacks_dist_and_licence_only(tmp_path, monkeypatch):
    tarball, integrity = _package(tmp_path, {
        "package/dist/reveal.js": b"Reveal", "package/dist/theme/black.css": b"body {}",
        "package/LICENSE": b"MIT", "package/package.json": b"{}", "package/css/reveal.scss": b"",
    })
    monkeypatch.setattr(reveal_assets, "INTEGRITY", integrity)
    root = reveal_assets.install(tarball, tmp_path / "copy")
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert found == ["LICENSE", "dist/reveal.js", "dist/theme/black.css"]
    assert reveal_assets.installed(root)


def test_install_refuses_a_package_that_is_not_the_published_one(tmp_path):
    tarball, _ = _package(tmp_path, {"package/dist/reveal.js": b"something else"})
    with pytest.raises(ValueError, match="is not reveal.js"):
        reveal_assets.install(tarball, tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


def test_inline_puts_styles_and_scripts_inside_and_keeps_scripts_closed(tmp_path):
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "reveal.css").write_text(".reveal {}")
    (tmp_path / "dist" / "md.js").write_text('var t = "<script></script>";')
    prefix = reveal_assets.PLACEHOLDER
    html = (f'<head><link rel="stylesheet" href="{prefix}/dist/reveal.css"></head>'
            f'<body><script src="{prefix}/dist/md.js"></script><script>Reveal.initialize()</script></body>')
    inlined = reveal_assets.inline(html, tmp_path)
    assert inlined == ('<head><style>.reveal {}</style></head>'
                       '<body><script>var t = "<script><\\/script>";</script><script>Reveal.initialize()</script></body>')


def test_inline_names_a_missing_file(tmp_path):
    html = f'<script src="{reveal_assets.PLACEHOLDER}/dist/plugin/notes.js"></script>'
    with pytest.raises(FileNotFoundError, match="dist/plugin/notes.js"):
        reveal_assets.inline(html, tmp_path)
