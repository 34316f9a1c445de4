"""`python -m simulator`: run the upstream simulator without Django."""

from .cli import main

main()
