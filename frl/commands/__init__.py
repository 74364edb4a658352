"""One module per ``frl`` subcommand, each with ``register(subparsers)``."""
