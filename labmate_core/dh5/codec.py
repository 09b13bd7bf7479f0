"""Python values <-> HDF5 datasets and groups (the value table of SPEC §1).

Encoding is split from writing so that every pending value can be validated before the file
is opened: :func:`encode` turns a value into an :class:`Encoded` tree (or raises ``TypeError``
naming the key), :func:`write` puts such a tree into an open ``h5py`` group.
The on-disk forms are the ones dh5 0.8.1 writes and reads: plain datasets for numbers and
arrays, variable-length UTF-8 strings, ``"__json__"`` and ``"__function__"`` string prefixes.
Round trips are exact: a user's string that starts with one of those prefixes is stored as
JSON text of the string (dh5 reads it back the same); ``bytes`` are ASCII strings marked with
the attribute ``__labmate_type__ = "bytes"`` (dh5 reads them as ``str``, as it always did);
values that contain themselves, strings that are not valid UTF-8 (lone surrogates) and dicts
whose keys would collide in JSON are refused, naming the key.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from .errors import UnstorableValueError

JSON_PREFIX = "__json__"
FUNCTION_PREFIX = "__function__"
#: Attribute of a dataset holding ``bytes`` (an ASCII string) that must read back as bytes.
TYPE_ATTR = "__labmate_type__"
BYTES_TYPE = "bytes"
_NUMERIC_KINDS = "biufc"
_STORABLE_ARRAY_KINDS = "biufcSV"


@dataclass
class EncodedGroup:
    """A group to create: its children, already encoded."""

    children: dict[str, Encoded] = field(default_factory=dict)


Encoded = Any  # EncodedGroup, np.ndarray, np.generic, str or bytes


class JsonText(str):
    """Text already in its stored form (``"__json__" + json``): written as is, not re-encoded.

    For the library's own metadata (a loop's ``__loop_shape__``); a user's plain ``str`` that
    happens to start with ``"__json__"`` is stored so that it reads back unchanged.
    """


def json_text(value: Any) -> JsonText:
    """``"__json__" + json.dumps(value)``, marked as already encoded."""
    return JsonText(JSON_PREFIX + json.dumps(value))


class StoredFunction:
    """A function read back from a file: its source, compiled on first use.

    ``f.eval(*args)`` compiles the source if needed and calls it; ``f(*args)`` does the same.
    """

    def __init__(self, code: str) -> None:
        self.code = code if code.endswith("\n") else code + "\n"
        self.original_name = _function_name(self.code)
        self.func: Any = None

    def compile(self) -> Any:
        """Compile the stored source and return the function object."""
        if self.func is None:
            if not self.original_name:
                raise SyntaxError(f"No function definition in stored code:\n{self.code}")
            namespace: dict[str, Any] = {}
            exec(compile(self.code, f"<stored function {self.original_name}>", "exec"), namespace)
            self.func = namespace[self.original_name]
        return self.func

    def eval(self, *args: Any, **kwargs: Any) -> Any:
        """Compile (once) and call the function."""
        return self.compile()(*args, **kwargs)

    __call__ = eval

    def __repr__(self) -> str:
        return f"StoredFunction({self.original_name or '?'})"


def _function_name(code: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node.name
    return ""


def _function_source(func: Any, key: str) -> str:
    """Source of a plain function, dedented, without decorators; lambdas become a ``def``."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as exc:
        raise UnstorableValueError(key, "the function's source is not available") from exc
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                node.name == func.__name__
            ):
                lines = source.splitlines(keepends=True)
                return "".join(lines[node.lineno - 1 : node.end_lineno])
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]
        if func.__name__ == "<lambda>" and len(lambdas) == 1:
            lam = lambdas[0]
            args = ast.unparse(lam.args)
            body = ast.get_source_segment(source, lam.body) or ast.unparse(lam.body)
            return f"def lambda_function({args}):\n    return {body}\n"
    raise UnstorableValueError(key, "the function's source cannot be isolated")


def normalize(value: Any) -> Any:
    """Convert objects exposing ``asdict()``/``_asdict()``/``asarray()`` (done on assignment)."""
    if getattr(value, "__should_not_be_converted__", False):
        return value
    for method in ("asdict", "_asdict", "asarray"):
        if hasattr(value, method) and callable(getattr(value, method)):
            return normalize(getattr(value, method)())
    return value


def _storable_dtype(dtype: np.dtype) -> bool:
    """An array dtype HDF5 stores as it is: numbers, bool, bytes, opaque and records of them."""
    if dtype.itemsize == 0:
        return False
    if dtype.fields is not None:
        return all(_storable_dtype(field[0]) for field in dtype.fields.values())
    if dtype.subdtype is not None:
        return _storable_dtype(dtype.subdtype[0])
    return dtype.kind in _STORABLE_ARRAY_KINDS


def _is_number(value: Any) -> bool:
    return isinstance(value, (bool, int, float, complex, np.number, np.bool_))


def _numeric_array(items: Any) -> np.ndarray | None:
    """The array for a list of numbers or same-shape numeric arrays, else None."""
    if len(items) == 0:
        return np.asarray([], dtype=np.float64)
    stack = [items]
    seen = {id(items)}  # a list met twice (shared, or containing itself) is walked once
    while stack:
        current = stack.pop()
        for item in current:
            if isinstance(item, (list, tuple)):
                if id(item) not in seen:
                    seen.add(id(item))
                    stack.append(item)
            elif isinstance(item, np.ndarray):
                if item.dtype.kind not in _NUMERIC_KINDS:
                    return None
            elif not _is_number(item):
                return None
    try:
        array = np.asarray(items)
    except (ValueError, OverflowError):
        return None  # ragged
    if array.dtype.kind not in _NUMERIC_KINDS:
        return None
    return array


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return _sorted_if_possible(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _sorted_if_possible(values: Any) -> list:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


CYCLE_REASON = "the value contains itself (a list or dict that holds itself)"


def _json_key(key: Any) -> Any:
    """The object key ``json.dumps`` writes for ``key`` (None for keys it refuses itself)."""
    if isinstance(key, str):
        return key
    if key is True or key is False or key is None:
        return json.dumps(key)
    if isinstance(key, (int, float)):
        return json.dumps(key)
    return None


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _check_json_tree(value: Any, key: str) -> None:
    """Refuse what JSON would not give back: containers holding themselves, colliding keys."""
    active: set[int] = set()  # containers on the path from the top to the current one

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            children: Any = node.values()
            names: dict[Any, Any] = {}
            for name in node.keys():
                text = _json_key(name)
                if text is not None and text in names:
                    raise UnstorableValueError(
                        key, f"the dict keys {names[text]!r} and {name!r} would collide in the file"
                    )
                names[text] = name
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            return
        if id(node) in active:
            raise UnstorableValueError(key, CYCLE_REASON)
        active.add(id(node))
        for child in children:
            if type(child) not in _JSON_SCALARS and (
                isinstance(child, (dict, list, tuple, Mapping))
            ):
                walk(child)
        active.discard(id(node))

    try:
        walk(value)
    except RecursionError:
        raise UnstorableValueError(key, "the value is nested too deeply") from None


def _encode_json(value: Any, key: str) -> str:
    try:
        text = json.dumps(value, default=_json_default)
    except ValueError as exc:
        circular = "Circular reference" in str(exc)
        raise UnstorableValueError(key, CYCLE_REASON if circular else str(exc)) from exc
    except (TypeError, RecursionError) as exc:
        raise UnstorableValueError(key, str(exc)) from exc
    if "{" in text:  # dicts somewhere (or just the character): check that no keys collided
        _check_json_tree(value, key)
    return JSON_PREFIX + text


def _is_utf8(text: str) -> bool:
    """False for strings that cannot be written as UTF-8 (lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: str | bytes, key: str) -> str | bytes:
    """``value`` if HDF5 can store it as a string: variable-length strings end at a NUL."""
    if ("\x00" in value) if isinstance(value, str) else (b"\x00" in value):
        raise UnstorableValueError(key, "HDF5 strings cannot contain NUL ('\\x00')")
    if isinstance(value, str) and not _is_utf8(value):
        raise UnstorableValueError(
            key,
            "the string is not valid UTF-8 (it holds a lone surrogate, e.g. a file name decoded "
            "with 'surrogateescape'): store it as bytes (os.fsencode) or fix the text",
        )
    return value


def check_key(key: Any) -> str:
    """Validate one path component; return it."""
    if not isinstance(key, str):
        raise TypeError(f"Keys must be str, not {type(key).__name__} ({key!r})")
    if key in ("", ".", "..") or "/" in key:
        raise ValueError(f"Invalid key {key!r}: keys must be non-empty names without '/'")
    if "\x00" in key:
        raise ValueError(f"Invalid key {key!r}: keys must not contain NUL ('\\x00')")
    if not _is_utf8(key):
        raise ValueError(f"Invalid key {key!r}: keys must be valid UTF-8 (no lone surrogates)")
    return key


def encode(value: Any, key: str) -> Encoded:
    """Encode ``value`` (never None) for writing under ``key``; ``TypeError`` if unstorable."""
    try:
        return _encode(value, key, frozenset())
    except RecursionError:
        raise UnstorableValueError(key, "the value is nested too deeply") from None


def _encode(value: Any, key: str, _active: frozenset[int]) -> Encoded:
    value = normalize(value)
    if isinstance(value, Mapping) or hasattr(value, "_dh5_encode_group"):
        if id(value) in _active:
            raise UnstorableValueError(key, CYCLE_REASON)
        active = _active | {id(value)}
        items = value._dh5_encode_group() if hasattr(value, "_dh5_encode_group") else value
        group = EncodedGroup()
        for sub_key, sub_value in items.items():
            if sub_value is None:
                continue
            try:
                check_key(sub_key)
            except (TypeError, ValueError) as exc:
                raise UnstorableValueError(key, str(exc)) from exc
            group.children[sub_key] = _encode(sub_value, f"{key}/{sub_key}", active)
        return group
    if isinstance(value, (str, bytes)):
        value = _text(value, key)
        if isinstance(value, bytes):
            return bytes(value)
        if type(value) is JsonText:
            return str(value)
        if value.startswith((JSON_PREFIX, FUNCTION_PREFIX)):  # a user's text: never decoded
            return JSON_PREFIX + json.dumps(str(value))
        return str(value)
    if _is_number(value):
        scalar = np.asarray(value)
        if scalar.dtype.kind not in _NUMERIC_KINDS:
            raise UnstorableValueError(key, f"{value!r} does not fit a numeric dtype")
        return scalar[()]
    if isinstance(value, StoredFunction):
        return _text(FUNCTION_PREFIX + value.code, key)
    if isinstance(value, np.ndarray):
        if _storable_dtype(value.dtype):
            return value
        if value.dtype.kind in "UO":
            return _encode_json(value.tolist(), key)
        raise UnstorableValueError(key, f"arrays of dtype {value.dtype} are unsupported")
    if isinstance(value, (list, tuple, set, frozenset)):
        items = _sorted_if_possible(value) if isinstance(value, (set, frozenset)) else value
        array = _numeric_array(items)
        if array is not None:
            return array
        return _encode_json(list(items), key)
    if inspect.isfunction(value):
        return _text(FUNCTION_PREFIX + _function_source(value, key), key)
    for method in ("asdict", "_asdict", "asarray"):  # kept unconverted in memory: at save
        if callable(getattr(value, method, None)):
            return encode(getattr(value, method)(), key)
    raise UnstorableValueError(
        key,
        f"values of type {type(value).__name__} are not supported "
        "(use numbers, str, arrays, lists, dicts, functions or objects with asdict()/asarray())",
    )


#: Strings up to this size overwrite a variable-length string of the same shape in place (no
#: new dataset, no free space left behind); longer ones replace it. Numbers and numeric arrays
#: of the same shape and dtype are always overwritten in place.
IN_PLACE_MAX_BYTES = 64 * 1024
_VLEN_STR = h5py.string_dtype()


def _link_name(name: str) -> bytes:
    """``name`` as h5py encodes link names (ASCII if it can, else UTF-8)."""
    try:
        return name.encode("ascii")
    except UnicodeEncodeError:
        return name.encode("utf-8")


def _as_array(encoded: Encoded) -> np.ndarray | None:
    """The array h5py would write for ``encoded`` (a leaf), or None for other leaves."""
    if isinstance(encoded, str):
        return np.array(encoded, dtype=_VLEN_STR)
    if isinstance(encoded, (np.ndarray, np.generic)) and encoded.dtype.kind in _NUMERIC_KINDS:
        return np.asarray(encoded, order="C")
    return None


def _overwrite_in_place(dataset: h5py.h5d.DatasetID, encoded: Encoded) -> bool:
    """Write a value over an existing dataset of the same shape and type (strings: small ones
    only); False if the dataset must be replaced instead."""
    array = _as_array(encoded)
    if array is None or dataset.shape != array.shape:
        return False
    if isinstance(encoded, str):
        if len(encoded) > IN_PLACE_MAX_BYTES:  # vlen data lives in the global heap
            return False
        info = h5py.check_string_dtype(dataset.dtype)
        if info is None or info.length is not None or info.encoding != "utf-8":
            return False
    elif dataset.dtype != array.dtype:
        return False
    if dataset.get_create_plist().get_nfilters():
        return False  # compressed: keep the rewrite (a new, right-sized allocation)
    dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, array)
    return True


def write(group: h5py.Group, name: str, encoded: Encoded) -> None:
    """Write ``encoded`` as ``group[name]``, replacing what was there.

    A value of the same shape and type as the existing uncompressed dataset is written over it
    in place; anything else deletes the old object and creates the new one (as dh5 0.8.1 does).
    """
    link = _link_name(name)
    if group.id.links.exists(link):
        if _only_name_of_dataset(group, link, encoded):
            existing = h5py.h5o.open(group.id, link)
            if _overwrite_in_place(existing, encoded):
                return
            del existing
        del group[name]  # the link only: a soft/external link's target is left alone
    if isinstance(encoded, EncodedGroup):
        sub = group.create_group(name)
        for sub_name, sub_value in encoded.children.items():
            write(sub, sub_name, sub_value)
    else:
        array = _as_array(encoded)
        if array is None:
            raw_bytes = isinstance(encoded, bytes) or (
                isinstance(encoded, np.ndarray) and encoded.dtype.kind == "S"
            )
            if isinstance(encoded, bytes) and not _is_utf8_bytes(encoded):
                encoded = np.void(encoded)  # opaque: dh5 could not open a file with it as text
            dataset = group.create_dataset(name, data=encoded)
            if raw_bytes:
                dataset.attrs[TYPE_ATTR] = BYTES_TYPE
        else:
            _create_dataset(group, link, array)


def _only_name_of_dataset(group: h5py.Group, link: bytes, encoded: Encoded) -> bool:
    """True when ``link`` is a hard link to a dataset that has no other name, and ``encoded``
    could be written over it: only then is an in-place overwrite the same as a replacement
    (a soft, external or second hard link would make it change another key's value)."""
    if _as_array(encoded) is None:
        return False
    if group.id.links.get_info(link).type != h5py.h5l.TYPE_HARD:
        return False
    info = h5py.h5g.get_objinfo(group.id, link, follow_link=False)
    return info.type == h5py.h5g.DATASET and info.nlink == 1


#: Property lists, types and the scalar dataspace of :func:`_create_dataset`, made once (HDF5
#: copies them into each new dataset; reusing them spares ~5 objects per dataset).
_DCPL: dict[bool, h5py.h5p.PropDCID] = {}
_TYPES: dict[str, h5py.h5t.TypeID] = {}
_SCALAR_SPACE: list[h5py.h5s.SpaceID] = []


def _dataset_create_plist() -> h5py.h5p.PropDCID:
    track_order = bool(h5py.get_config().track_order)
    dcpl = _DCPL.get(track_order)
    if dcpl is None:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_obj_track_times(False)
        if track_order:
            dcpl.set_attr_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
        else:
            dcpl.set_attr_creation_order(0)
        _DCPL[track_order] = dcpl
    return dcpl


def _file_type(dtype: np.dtype) -> h5py.h5t.TypeID:
    """``h5t.py_create(dtype, logical=1)``, cached for numbers and variable-length strings."""
    metadata = dtype.metadata
    if dtype.kind == "O" and metadata is not None and metadata.get("vlen") is str:
        key = "vlen-str"
    elif dtype.kind in _NUMERIC_KINDS and dtype.fields is None and metadata is None:
        key = dtype.str
    else:
        return h5py.h5t.py_create(dtype, logical=1)
    file_type = _TYPES.get(key)
    if file_type is None:
        file_type = _TYPES[key] = h5py.h5t.py_create(dtype, logical=1)
    return file_type


def _dataspace(shape: tuple[int, ...]) -> h5py.h5s.SpaceID:
    if shape:
        return h5py.h5s.create_simple(shape)
    if not _SCALAR_SPACE:
        _SCALAR_SPACE.append(h5py.h5s.create_simple(()))
    return _SCALAR_SPACE[0]


def _create_dataset(group: h5py.Group, link: bytes, array: np.ndarray) -> None:
    """``group.create_dataset(name, data=array)`` without h5py's high-level overhead: the same
    calls with the same property lists, hence the same bytes in the file."""
    dataset = h5py.h5d.create(
        group.id,
        link,
        _file_type(array.dtype),
        _dataspace(array.shape),
        dcpl=_dataset_create_plist(),
    )
    dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, array)


def decode(raw: Any) -> Any:
    """Turn what ``dataset[()]`` returned into the user-facing value."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            return raw
    if isinstance(raw, str):
        if raw.startswith(JSON_PREFIX):
            try:
                return json.loads(raw[len(JSON_PREFIX) :])
            except ValueError:  # not JSON after all (another program's text): as it is
                return raw
        if raw.startswith(FUNCTION_PREFIX):
            return StoredFunction(raw[len(FUNCTION_PREFIX) :])
        return raw
    return raw


def _is_utf8_bytes(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _holds_bytes(dataset: h5py.Dataset) -> bool:
    """A dataset we marked as ``bytes`` (see :data:`TYPE_ATTR`): an ASCII string, or opaque."""
    if dataset.dtype.kind != "V":
        info = h5py.check_string_dtype(dataset.dtype)
        if info is None or info.encoding != "ascii":
            return False
    mark = dataset.attrs.get(TYPE_ATTR)
    return (mark.decode() if isinstance(mark, bytes) else mark) == BYTES_TYPE


def read_dataset(dataset: h5py.Dataset, selection: Any = ()) -> Any:
    """Read ``dataset[selection]`` and decode it."""
    kind = dataset.dtype.kind
    if kind in "OSV" and _holds_bytes(dataset):
        raw = dataset[selection]
        if isinstance(raw, np.void):
            return raw.tobytes()
        return bytes(raw) if isinstance(raw, bytes) else raw
    if dataset.shape and h5py.check_string_dtype(dataset.dtype) is not None:
        return dataset.asstr()[selection]
    return decode(dataset[selection])
