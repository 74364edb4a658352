"""frl: the command-line front end of the toolkit (``frl theory | train | eval | ...``)."""

from deep.run_dir import package_version

__version__ = package_version()
