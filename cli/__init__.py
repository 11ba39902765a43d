"""The gantools command line: a thin typer layer over ``gantools.workflows``."""
