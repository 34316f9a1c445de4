"""How names from providers are compared: service types and status words.

Providers spell the same name many ways ("Custom Comments", "custom_comments",
"Custom-Comments", "Mentions  with   hashtags", "In Progress", "in_progress"). Two spellings
name the same thing when they are equal ignoring case, white space, underscores and hyphens.
"""

__all__ = ["name_key"]


def name_key(name: str) -> str:
    """The comparison key of a provider's name: lower case, without white space, `_` or `-`."""
    return "".join(name.split()).replace("_", "").replace("-", "").lower()
