"""frl: the command-line front end of the toolkit (``frl theory | ...``)."""

__version__ = "0.1.0"
