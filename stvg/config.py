"""Typed configuration: build dataclasses from YAML/dicts with errors that name the key path.

Every run is one YAML file validated into typed dataclasses. An unknown key, a missing
required key, or a value of the wrong type raises :class:`ConfigError` naming the key path
(``verifier.terms[2].weight``), the value, what was expected and the source file.

Supported field types: ``int``, ``float`` (ints accepted), ``str``, ``bool``, ``Literal[...]``,
``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``, ``Any`` and nested dataclasses.

Bounds (:mod:`stvg.limits`): an ``int`` must fit in 64 bits, and a field whose name is in
:data:`stvg.limits.FIELD_BOUNDS` (``seed``, ``max_frames``, ``max_side``, ``fps``,
``batch_size``, ...) must lie within that name's bounds in every config, so that no value
can ask for an allocation or a loop that fails late. A YAML document is bounded too (see
:func:`parse_yaml`), and an error message quotes a value through
:func:`stvg.limits.short_repr`, so its length is bounded whatever the value.

Three declarations on a config dataclass shape how a mapping becomes it:

* **section defaults**: a nested section given in part keeps, for the keys it leaves out,
  the values of its field's default (``env: EnvConfig = field(default_factory=lambda:
  EnvConfig(max_frames=16))`` keeps ``max_frames: 16`` under ``env: {fps: 2}``);
* **deprecated spellings**: ``CONFIG_ALIASES = {"fps": "env.fps", "kwargs": ""}`` reads an
  old key at its new place (``""``: the old mapping's keys at this level), with one
  :class:`DeprecatedKey` warning naming both;
* **keys a runner sets**: a field declared with :func:`set_by` (``seed: int =
  set_by("stvg run", 0)``) is filled by that runner, which refuses it in its own config
  (:func:`refuse_set_keys`).

A dataclass may also define ``__config_prepare__(cls, data, path, source) -> dict``, called
with its mapping before the conversion (``stvg run`` fills its stage configs there).
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from stvg.limits import (
    MAX_CONFIG_DEPTH,
    MAX_CONFIG_VALUES,
    MAX_REPR_CHARS,
    bound_problem,
    one_line,
    short_repr,
)

T = TypeVar("T")

#: Field metadata key of :func:`set_by`.
SET_BY = "stvg_set_by"


class ConfigError(ValueError):
    """A configuration value that is unknown, missing or of the wrong type. The message is
    one line (line breaks a value or PyYAML put in it become spaces), as commands print it."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(str(message)))


class DeprecatedKey(FutureWarning):
    """A config key written in an old spelling; it is read at its new place."""


def set_by(owner: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A dataclass field that ``owner`` (a runner such as ``stvg run``) fills in: its
    config refuses the key (:func:`refuse_set_keys`); standalone, it is a plain field with
    ``default`` (or ``default_factory=...``)."""
    metadata = {**kwargs.pop("metadata", {}), SET_BY: owner}
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def set_keys(cls: type, owner: str) -> list[str]:
    """The fields of dataclass ``cls`` declared :func:`set_by` ``owner``."""
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get(SET_BY) == owner]


def refuse_set_keys(cls: type, data: Any, owner: str, path: str, source: str | None) -> None:
    """Raise :class:`ConfigError` when mapping ``data`` (the section at ``path``) gives a
    key of ``cls`` that ``owner`` sets."""
    if not isinstance(data, Mapping):
        return
    owned = set_keys(cls, owner)
    aliases = getattr(cls, "CONFIG_ALIASES", None) or {}
    for key in sorted(data):
        target = key if key in owned else aliases.get(key, "").split(".")[0]
        if target in owned:
            old = "" if target == key else f" (the old spelling of {path}.{aliases[key]})"
            raise _fail(
                f"{path}.{key}",
                source,
                f"is set by {owner}{old}: keys {owned} of {path} come from its other "
                "sections, so that every stage sees the same data and frames; remove it",
            )


class InvalidField(ValueError):
    """Raised by a config dataclass's ``__post_init__`` to blame one of its fields.

    :func:`from_dict` reports it as a :class:`ConfigError` at the key path of that field
    (``verifier.terms[2].name``) instead of the dataclass's own path.

    Args:
        field: the field's key path relative to the dataclass (``name``, ``terms[2].name``).
        message: what is wrong and how to fix it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, plus numbers in exponent notation without a dot (``1e-4``),
    which YAML 1.1 (and so PyYAML) would read as strings, and a key given twice in one
    mapping refused (PyYAML keeps the last value and drops the others without a word;
    a key that a merge ``<<: *base`` brings in may still be set again)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found key {short_repr(key)} given twice (keep one: a YAML reader "
                        "would silently keep the last)",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    """YAML ``text`` as Python values (``1e-4`` is a float, see :class:`_Loader`).

    The value is bounded before anyone walks it (:mod:`stvg.limits`): at most
    ``MAX_CONFIG_VALUES`` values once aliases are expanded (an alias bomb such as the
    "billion laughs" is refused), at most ``MAX_CONFIG_DEPTH`` levels, and no value that
    contains itself (``&a [*a]``). The check costs one pass over the distinct values.

    Raises:
        yaml.YAMLError: malformed YAML.
        ConfigError: a document past those bounds, nested too deeply to parse, or with a
            scalar that cannot be built (an integer of more than 4,300 digits, a date such
            as ``2020-02-30``).

    >>> parse_yaml("lr: 1e-4"), parse_yaml("3"), parse_yaml("[1, 2e3]")
    ({'lr': 0.0001}, 3, [1, 2000.0])
    """
    try:
        value = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise ConfigError(
            f"the YAML is nested too deeply to parse (more than {MAX_CONFIG_DEPTH} levels "
            "are refused anyway)"
        ) from None
    except ValueError as exc:  # a scalar PyYAML cannot build: a 5,000-digit int, 2020-02-30
        reason = str(exc)
        if "integer string conversion" in reason:
            reason = "an integer of more than 4,300 digits"
        raise ConfigError(
            f"the YAML holds a value that cannot be read ({short_repr(reason)})"
        ) from None
    _check_bounded(value)
    return value


def _check_bounded(value: Any) -> None:
    """Refuse a parsed YAML value that expands past ``MAX_CONFIG_VALUES`` values, nests
    deeper than ``MAX_CONFIG_DEPTH`` or contains itself (iterative: no recursion)."""

    def items(node: Any) -> list[Any]:
        return list(node.values()) if isinstance(node, dict) else list(node)

    def size(node: Any) -> int:
        return 1 + (len(node) if isinstance(node, dict) else 0)  # a mapping's keys count

    containers = (dict, list, tuple, set)
    if not isinstance(value, containers):
        return
    expanded: dict[int, int] = {}  # id -> values under it, aliases expanded
    active = {id(value)}
    frames: list[list[Any]] = [[value, iter(items(value)), size(value)]]

    def add(frame: list[Any], count: int) -> None:
        frame[2] += count
        if frame[2] > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"the YAML holds more than {MAX_CONFIG_VALUES:,} values once its aliases "
                "(*name) are expanded; a config is far smaller (an alias bomb?)"
            )

    while frames:
        frame = frames[-1]
        child = next(frame[1], frames)  # ``frames`` marks the end of the items
        if child is frames:
            frames.pop()
            active.discard(id(frame[0]))
            expanded[id(frame[0])] = frame[2]
            if frames:
                add(frames[-1], frame[2])
            continue
        if not isinstance(child, containers):
            add(frame, 1)
        elif id(child) in active:
            raise ConfigError("the YAML contains a value that contains itself (&a [*a])")
        elif id(child) in expanded:
            add(frame, expanded[id(child)])
        elif len(frames) >= MAX_CONFIG_DEPTH:
            raise ConfigError(f"the YAML is nested more than {MAX_CONFIG_DEPTH} levels deep")
        else:
            active.add(id(child))
            frames.append([child, iter(items(child)), size(child)])


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``; a missing, empty or malformed file, or one whose
    top level is not a mapping, is a :class:`ConfigError`."""
    path = Path(path)
    shown = str(path) if len(str(path)) <= MAX_REPR_CHARS else short_repr(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ConfigError(f"config file not found: {shown}") from None
    except OSError as exc:  # no permission, a name too long for the file system, ...
        raise ConfigError(f"config file {shown} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {shown} is not UTF-8 text ({exc.reason})") from None
    except ValueError:  # a NUL character in the path: no file has one
        raise ConfigError(f"config file not found: {shown}") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML in {path}: {exc}") from exc
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if data is None:
        raise ConfigError(
            f"{path} is empty (or only comments): a config file names at least the keys it "
            "sets; see stvg/experiments/configs/ for complete examples"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def from_dict(cls: type[T], data: Any, *, path: str = "", source: str | None = None) -> T:
    """Build dataclass ``cls`` from ``data`` (a mapping), validating every key and type.

    Args:
        cls: the dataclass type to build.
        data: a mapping (e.g. parsed YAML); an instance of ``cls`` is returned as is.
        path: key path of ``data`` inside the whole config, used in error messages.
        source: the file the config came from, used in error messages.
    """
    return _convert(cls, data, path, source)


def field_value(
    cls: type, name: str, data: Mapping[str, Any], *, path: str = "", source: str | None = None
) -> Any:
    """Field ``name`` of dataclass ``cls`` as :func:`from_dict` builds it from mapping
    ``data`` (``cls``'s whole mapping; the field's default when the key is absent), for a
    ``__config_prepare__`` that needs a section before the others."""
    f = next((f for f in dataclasses.fields(cls) if f.name == name), None)
    if f is None:
        raise KeyError(f"{cls.__name__} has no field {name!r}")
    sub = f"{path}.{name}" if path else name
    if name not in data:
        if f.default_factory is not dataclasses.MISSING:
            return f.default_factory()
        if f.default is not dataclasses.MISSING:
            return f.default
        raise _fail(sub, source, "required key is missing")
    hints = get_type_hints(cls)
    return _convert(hints[name], _with_section_defaults(f, data[name]), sub, source)


def parse_overrides(items: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """``["rl.learning_rate=1e-5", "env.fps=2", "seed=3"]`` (the command line's ``--set``)
    as ``{dotted key: value}``; values are YAML (``null``, ``true``, ``[1, 2]``, ``{a: 1}``).

    Raises:
        ConfigError: an item without ``=`` or with an empty key, or a malformed value.

    >>> parse_overrides(["rl.learning_rate=1e-5", "env.fps=2", "name=run a"])
    {'rl.learning_rate': 1e-05, 'env.fps': 2, 'name': 'run a'}
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(
                f"override {short_repr(item)} is not KEY=VALUE with a dotted key "
                "(e.g. rl.learning_rate=1e-5)"
            )
        try:
            out[key] = parse_yaml(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {short_repr(item)}: malformed value ({exc})") from exc
        except ConfigError as exc:
            raise ConfigError(f"override {short_repr(item)}: {exc}") from None
    return out


def add_set_argument(parser: Any, example: str) -> None:
    """Add ``--set KEY=VALUE ...`` (dotted config overrides) to an ``argparse`` parser;
    ``example`` is the command's own (valid) overrides shown in its help."""
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help=f"override config keys, e.g. --set {example} (values are YAML; validated like "
        "the file)",
    )


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of the config mapping ``data`` with each dotted key of ``overrides`` set
    (missing parent mappings are created; validation is :func:`from_dict`'s job, so an
    unknown key is reported there with its full path).

    Raises:
        ConfigError: a dotted key runs through a value that is not a mapping.

    >>> apply_overrides({"rl": {"lr": 1.0}}, {"rl.lr": 0.5, "env.fps": 2})
    {'rl': {'lr': 0.5}, 'env': {'fps': 2}}
    """
    merged = copy.deepcopy(dict(data))
    for dotted, value in (overrides or {}).items():
        node = merged
        *parents, last = dotted.split(".")
        for depth, key in enumerate(parents):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                where = ".".join(parents[: depth + 1])
                raise ConfigError(
                    f"override {dotted}: config key {where} is {short_repr(child)}, not a mapping"
                )
            node = child
        node[last] = value
    return merged


def from_yaml(
    cls: type[T],
    path: str | Path,
    *,
    key: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build ``cls`` from a YAML file, optionally from the sub-mapping under ``key``, with
    dotted ``overrides`` (:func:`apply_overrides`) applied before validation."""
    data = apply_overrides(load_yaml(path), overrides)
    if key is not None:
        data = data.get(key, {})
    return from_dict(cls, data, path=key or "", source=str(path))


def to_dict(obj: Any) -> Any:
    """A dataclass (recursively) as plain dicts/lists, ready for YAML or JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _where(path: str, source: str | None) -> str:
    loc = path or "<top level>"
    return f"{loc} (in {source})" if source else loc


def _fail(path: str, source: str | None, message: str) -> ConfigError:
    if len(message) > 4 * MAX_REPR_CHARS:  # a dataclass's own message quoting a value
        message = message[: 4 * MAX_REPR_CHARS - 3] + "..."
    return ConfigError(f"config key {_where(path, source)}: {message}")


def _convert(tp: Any, value: Any, path: str, source: str | None) -> Any:
    if tp is Any or tp is object:
        return value
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        real = [option for option in options if option is not type(None)]
        if len(real) == 1:  # ``X | None``: X's own error says what is wrong
            return _convert(real[0], value, path, source)
        sections = [option for option in real if dataclasses.is_dataclass(option)]
        if isinstance(value, Mapping) and len(sections) == 1:  # the section's own error
            return _convert(sections[0], value, path, source)
        for option in real:
            try:
                return _convert(option, value, path, source)
            except ConfigError:
                continue
        raise _fail(path, source, f"{short_repr(value)} matches none of {_type_name(tp)}")
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise _fail(path, source, f"{short_repr(value)} is not one of {list(choices)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _fail(
                path, source, f"expected a mapping for {tp.__name__}, got {short_repr(value)}"
            )
        value = _migrate(tp, value, path, source)
        prepare = getattr(tp, "__config_prepare__", None)
        if prepare is not None:
            value = prepare(value, path, source)
        hints = get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
        unknown = sorted(set(value) - set(fields), key=str)
        if unknown:
            prefix = f"{path}." if path else ""
            key = short_repr(unknown[0]) if not isinstance(unknown[0], str) else unknown[0]
            key = key if len(key) <= MAX_REPR_CHARS else key[: MAX_REPR_CHARS - 3] + "..."
            raise ConfigError(
                f"unknown config key {_where(prefix + key, source)}; "
                f"valid keys here: {sorted(fields)}"
            )
        kwargs = {}
        for name, f in fields.items():
            sub = f"{path}.{name}" if path else name
            if name in value:
                given = _with_section_defaults(f, value[name])
                kwargs[name] = _convert(hints[name], given, sub, source)
                problem = bound_problem(name, kwargs[name])
                if problem is not None:
                    raise _fail(sub, source, problem)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _fail(sub, source, "required key is missing")
        try:
            return tp(**kwargs)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            where = path
            if isinstance(exc, InvalidField):
                where = f"{path}.{exc.field}" if path else exc.field
            raise _fail(where, source, str(exc)) from exc
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _fail(path, source, f"expected a list, got {short_repr(value)}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise _fail(path, source, f"expected {len(args)} items, got {len(value)}")
            items = [
                _convert(a, v, f"{path}[{i}]", source)
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            ]
        else:
            item_tp = args[0] if args else Any
            items = [_convert(item_tp, v, f"{path}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _fail(path, source, f"expected a mapping, got {short_repr(value)}")
        args = get_args(tp)
        val_tp = args[1] if len(args) == 2 else Any
        return {k: _convert(val_tp, v, f"{path}.{k}", source) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, source, f"expected true/false, got {short_repr(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, source, f"expected an integer, got {short_repr(value)}")
        if not -(2**63) <= value < 2**63:
            raise _fail(path, source, f"{short_repr(value)} does not fit in 64 bits")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, source, f"expected a number, got {short_repr(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(path, source, f"expected a string, got {short_repr(value)}")
        if "\0" in value:  # YAML's "\0": no name, path or text of a config holds one
            raise _fail(path, source, f"{short_repr(value)} holds a NUL character (\\0)")
        return value
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise _fail(path, source, f"expected {tp.__name__}, got {short_repr(value)}")
        return value
    raise _fail(path, source, f"unsupported config type {tp!r}")


def _migrate(tp: Any, value: Mapping[str, Any], path: str, source: str | None) -> Mapping[str, Any]:
    """``value`` with the deprecated keys of ``tp.CONFIG_ALIASES`` moved to their new place
    (one :class:`DeprecatedKey` warning each; an old and a new key both given is an
    error)."""
    aliases = getattr(tp, "CONFIG_ALIASES", None)
    if not aliases or not any(_has_dotted(value, old) for old in aliases):
        return value
    data = copy.deepcopy(dict(value))
    prefix = f"{path}." if path else ""
    for old, new in aliases.items():
        if not _has_dotted(data, old):
            continue
        moved = _pop_dotted(data, old)
        if new == "":
            if not isinstance(moved, Mapping):
                raise _fail(prefix + old, source, f"expected a mapping, got {moved!r}")
            items = dict(moved)
            where = path or "the top level"
        else:
            items = {new: moved}
            where = prefix + new
        for key, item in items.items():
            if _has_dotted(data, key) and _get_dotted(data, key) != item:
                raise _fail(
                    prefix + old,
                    source,
                    f"is the old spelling of {prefix}{key}, which is given too with another "
                    f"value: keep {prefix}{key} only",
                )
            _set_dotted(data, key, item)
        instead = f"its keys directly under {where}" if new == "" else f"it as {prefix}{new}"
        warnings.warn(
            f"config key {_where(prefix + old, source)} is deprecated: write {instead} "
            "(read as that now)",
            DeprecatedKey,
            stacklevel=2,
        )
    return data


def _has_dotted(data: Mapping[str, Any], dotted: str) -> bool:
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _get_dotted(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        node = node[key]
    return node


def _pop_dotted(data: dict[str, Any], dotted: str) -> Any:
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    return node.pop(last)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            child = node[key] = dict(child)
        node = child
    node[last] = value


def _with_section_defaults(f: dataclasses.Field, given: Any) -> Any:
    """A nested section given in part, completed with its field's default section (when
    the default is a dataclass instance): ``given`` wins key by key, one level deep."""
    if not isinstance(given, Mapping):
        return given
    if f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    elif f.default is not dataclasses.MISSING:
        default = f.default
    else:
        return given
    if not dataclasses.is_dataclass(default) or isinstance(default, type):
        return given
    base = {
        g.name: getattr(default, g.name)
        for g in dataclasses.fields(default)
        if g.init and getattr(default, g.name) != _field_default(g)
    }
    if not base:
        return given
    return {**base, **given}


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


__all__ = [
    "SET_BY",
    "ConfigError",
    "DeprecatedKey",
    "InvalidField",
    "add_set_argument",
    "apply_overrides",
    "field_value",
    "from_dict",
    "from_yaml",
    "load_yaml",
    "parse_overrides",
    "parse_yaml",
    "refuse_set_keys",
    "set_by",
    "set_keys",
    "to_dict",
]
