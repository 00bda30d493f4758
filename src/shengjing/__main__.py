"""``python -m shengjing`` runs the CLI."""

from shengjing.cli import main

main()
