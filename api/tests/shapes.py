"""A small JSON Schema checker for the subset api/schema.py uses (type, enum, pattern, properties,
required, additionalProperties, items, oneOf, $ref), so the tests need no extra package."""

import re

from api.schema import answer_schemas

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def errors(value, schema, defs=None, path="$") -> list[str]:
    defs = defs if defs is not None else answer_schemas()
    if "$ref" in schema:
        return errors(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs, path)
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not errors(value, s, defs, path)]
        return [] if len(matching) == 1 else [f"{path}: matches {len(matching)} of oneOf"]
    found = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_TYPES[k](value) for k in kinds):
            return [f"{path}: {value!r} is not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in enum")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        found.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: missing {name}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                found += errors(item, props[name], defs, f"{path}.{name}")
            elif extra is False:
                found.append(f"{path}: unexpected {name}")
            elif isinstance(extra, dict):
                found += errors(item, extra, defs, f"{path}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += errors(item, schema["items"], defs, f"{path}[{index}]")
    return found


def check(value, name: str) -> None:
    problems = errors(value, {"$ref": f"#/components/schemas/{name}"})
    assert not problems, problems
