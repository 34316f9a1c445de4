"""Static files in production: hashed names and compression (WhiteNoise), minus source maps.

Django rewrites `sourceMappingURL` comments to hashed names and fails collectstatic when the map
is not shipped, which is the usual case for vendored, minified libraries. Source maps are a
debugging aid; leaving their comments alone costs a 404 in a browser's developer tools.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns):
    kept = []
    for extension, rules in patterns:
        rules = tuple(rule for rule in rules if "sourceMappingURL" not in (rule if isinstance(rule, str) else rule[0]))
        if rules:
            kept.append((extension, rules))
    return tuple(kept)


class StaticStorage(CompressedManifestStaticFilesStorage):
    patterns = _without_source_maps(CompressedManifestStaticFilesStorage.patterns)
