"""Command-line tools for operators: `stormwatch --help`."""
