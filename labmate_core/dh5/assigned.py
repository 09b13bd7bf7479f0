"""What happens to a value when it is assigned to a DH5 key, beyond storing it.

* objects with ``_dh5_bind(node, name)`` (:class:`SyncNp`) learn where they live;
* dh5 0.8.1's protocol: ``__init__filepath__(filepath=, filekey=, save_on_edit=)`` is called when
  the DH5 has a file, then ``__post__init__()``.
"""

from __future__ import annotations

from typing import Any

from .keys import join_key


def on_assigned(node: Any, name: str, value: Any) -> None:
    """Run the hooks of ``value``, just stored as ``node[name]``."""
    bind = getattr(value, "_dh5_bind", None)
    if callable(bind):
        bind(node, name)
    root = node._root
    init_filepath = getattr(value, "__init__filepath__", None)
    if callable(init_filepath) and root._h5 is not None and not root._read_only:
        init_filepath(
            filepath=root._h5,
            filekey=join_key(node.key_prefix, name),
            save_on_edit=root._save_on_edit,
        )
    post_init = getattr(value, "__post__init__", None)
    if callable(post_init):
        post_init()
