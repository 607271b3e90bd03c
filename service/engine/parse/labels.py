"""Label maps and label selectors, validated and cached.

Many objects carry identical labels and selectors, so a parsed value is cached per session,
keyed by the raw value (frozen); only valid values are cached, so every invalid occurrence is
still reported at its own place.
"""

from __future__ import annotations

from typing import Any

from service.engine.model import Labels, LabelSelector, Operator, Requirement
from service.engine.parse.fields import (
    Context,
    as_list,
    as_map,
    as_str,
    freeze,
    get_list,
    get_str,
    item,
    join,
    map_key,
    type_name,
)
from service.engine.parse.validation import label_value_errors, qualified_name_errors

EMPTY_LABELS = Labels()
EMPTY_SELECTOR = LabelSelector()

_OPERATORS = {op.value: op for op in Operator}
_SET_OPERATORS = (Operator.IN, Operator.NOT_IN)


def parse_labels(ctx: Context, value: object, path: str) -> Labels:
    """A ``map[string]string`` of labels (``metadata.labels``, a Service selector)."""
    if value is None:
        return EMPTY_LABELS
    if type(value) is not dict:
        ctx.wrong_type(path, "a map", value)
        return EMPTY_LABELS
    if not value:
        return EMPTY_LABELS
    cache = ctx.session.labels
    try:
        key = tuple(value.items())
        found = cache.get(key)
    except TypeError:  # an unhashable (hence invalid) value
        key, found = None, None
    if found is not None:
        return found  # type: ignore[no-any-return]
    before = ctx.problem_count
    items = _label_items(ctx, value, path)
    labels = Labels(items)
    if key is not None and ctx.problem_count == before:
        cache[key] = labels
    return labels


def _label_items(ctx: Context, value: dict[Any, Any], path: str) -> list[tuple[str, str]]:
    session = ctx.session
    intern = session.strings.setdefault
    valid_keys, valid_values = session.label_keys, session.label_values
    items: list[tuple[str, str]] = []
    for k, v in value.items():
        if k not in valid_keys:
            if not _check_key(ctx, k, path):
                continue
            valid_keys.add(k)
        if type(v) is not str:
            ctx.wrong_type(map_key(path, k), "a string", v)
            continue
        if v not in valid_values:
            if not _check_value(ctx, v, map_key(path, k)):
                continue
            valid_values.add(v)
        items.append((intern(k, k), intern(v, v)))
    return items


def _check_key(ctx: Context, key: object, path: str, *, in_map: bool = True) -> bool:
    """Report ``key`` if it is not a valid label key; ``path`` is the map's (the entry's
    path is reported) or, with ``in_map=False``, the key field's."""
    if type(key) is not str:
        ctx.error(path, f"label key {key!r} must be a string, got {type_name(key)}")
        return False
    errors = qualified_name_errors(key)
    for message in errors:
        ctx.error(map_key(path, key) if in_map else path, f'invalid label key "{key}": {message}')
    return not errors


def _check_value(ctx: Context, value: str, path: str) -> bool:
    errors = label_value_errors(value)
    for message in errors:
        ctx.error(path, f'invalid label value "{value}": {message}')
    return not errors


def parse_selector(ctx: Context, value: object, path: str) -> LabelSelector:
    """A metav1.LabelSelector: ``matchLabels`` ANDed with ``matchExpressions``."""
    if value is None:
        return EMPTY_SELECTOR
    if type(value) is not dict:
        ctx.wrong_type(path, "a map", value)
        return EMPTY_SELECTOR
    if not value:
        return EMPTY_SELECTOR
    cache = ctx.session.selectors
    key = freeze(value)
    found = cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    before = ctx.problem_count
    selector = _parse_selector(ctx, value, path)
    if ctx.problem_count == before:
        cache[key] = selector
    return selector


def _parse_selector(ctx: Context, value: dict[str, Any], path: str) -> LabelSelector:
    labels = parse_labels(ctx, value.get("matchLabels"), join(path, "matchLabels"))
    expressions: list[Requirement] = []
    raw = get_list(ctx, value, "matchExpressions", path) or ()
    prefix = join(path, "matchExpressions")
    for index, entry in enumerate(raw):
        requirement = _parse_requirement(ctx, entry, item(prefix, index))
        if requirement is not None:
            expressions.append(requirement)
    return LabelSelector.of(labels, expressions)


def _parse_requirement(ctx: Context, value: object, path: str) -> Requirement | None:
    entry = as_map(ctx, value, path)
    if entry is None:
        if value is None:
            ctx.required(path)
        return None
    key = get_str(ctx, entry, "key", path, required=True)
    key_ok = key is not None and _check_key(ctx, key, join(path, "key"), in_map=False)
    operator_name = get_str(ctx, entry, "operator", path, required=True)
    operator = None
    if operator_name is not None:
        operator = _OPERATORS.get(operator_name)
        if operator is None:
            ctx.error(
                join(path, "operator"),
                f'"{operator_name}" is not a valid selector operator '
                '(supported: "In", "NotIn", "Exists", "DoesNotExist")',
            )
    values_path = join(path, "values")
    raw_values = as_list(ctx, entry.get("values"), values_path) or []
    values: list[str] = []
    values_ok = True
    for index, raw in enumerate(raw_values):
        value_path = item(values_path, index)
        text = as_str(ctx, raw, value_path)
        if text is None:
            if raw is None:
                ctx.wrong_type(value_path, "a string", raw)
            values_ok = False
        elif _check_value(ctx, text, value_path):
            values.append(ctx.session.intern(text))
        else:
            values_ok = False
    if operator is None:
        return None
    if operator in _SET_OPERATORS:
        if not raw_values:
            ctx.error(values_path, "must be specified when `operator` is 'In' or 'NotIn'")
            return None
    elif raw_values:
        ctx.error(values_path, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        return None
    if not (key_ok and values_ok) or key is None:
        return None
    return Requirement(ctx.session.intern(key), operator, tuple(sorted(set(values))))
