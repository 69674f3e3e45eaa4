"""The evidence base: shipped published records, the user's imported ones, and their validation."""

from vmscope.evidence.schema import ParseResult, Problem, content_key, parse_file, parse_text
from vmscope.evidence.store import (
    ImportResult,
    data_dir,
    import_file,
    load_all,
    load_shipped,
    load_sources,
    load_user,
    user_store_file,
    validate_shipped,
)

__all__ = [
    "ImportResult",
    "ParseResult",
    "Problem",
    "content_key",
    "data_dir",
    "import_file",
    "load_all",
    "load_shipped",
    "load_sources",
    "load_user",
    "parse_file",
    "parse_text",
    "user_store_file",
    "validate_shipped",
]
