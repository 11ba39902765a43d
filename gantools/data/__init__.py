"""Data loading: reading tables, finding files, inferring the schema."""

from gantools.data.io import find_tables, iter_table_chunks, read_table
from gantools.data.schema import ColumnSpec, Schema, infer_schema

__all__ = ["ColumnSpec", "Schema", "find_tables", "infer_schema", "iter_table_chunks", "read_table"]
