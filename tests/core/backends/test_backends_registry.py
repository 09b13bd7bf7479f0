import pytest

from labmate_core.backends import (
    AcquisitionBackend,
    MirrorDirectoryBackend,
    available_backends,
    create_backend,
    get_backend_class,
    register_backend,
)
from labmate_core.backends.fsspec_backend import FsspecBackend
from labmate_core.backends.registry import _entry_points


def test_builtin_kinds_come_from_entry_points():
    eps = _entry_points()
    assert {"mirror", "fsspec"} <= set(eps)
    assert eps["mirror"].load() is MirrorDirectoryBackend
    assert get_backend_class("mirror") is MirrorDirectoryBackend
    assert get_backend_class("fsspec") is FsspecBackend
    assert {"mirror", "fsspec"} <= set(available_backends())


def test_create_backend(tmp_path):
    backend = create_backend("mirror", tmp_path / "m")
    assert isinstance(backend, MirrorDirectoryBackend) and backend.root == tmp_path / "m"
    assert create_backend("fsspec", f"file://{tmp_path}/f").name == f"fsspec:file://{tmp_path}/f"


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown backend kind 'ftp'.*fsspec.*mirror"):
        get_backend_class("ftp")


def test_register_in_process():
    class Custom(AcquisitionBackend):
        def __init__(self, where):
            self.where = where

        def save_snapshot(self, acquisition):
            pass

    register_backend("custom-test", Custom)
    assert "custom-test" in available_backends()
    assert create_backend("custom-test", "x").where == "x"
    with pytest.raises(TypeError):
        register_backend("bad", object)
    with pytest.raises(TypeError):
        register_backend("bad", Custom("x"))
    with pytest.raises(ValueError):
        register_backend("two words", Custom)
