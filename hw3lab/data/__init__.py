"""hw3_data readers (uint8 arrays with a cache) and the named transforms models need."""

from hw3lab.data.layout import (
    DIGIT_DOMAINS,
    FACE_ATTRIBUTES,
    DataLayoutError,
    resolve_data_root,
)
from hw3lab.data.readers import Split, load_digits, load_faces, load_split

__all__ = [
    "DIGIT_DOMAINS", "FACE_ATTRIBUTES", "DataLayoutError", "Split", "load_digits",
    "load_faces", "load_split", "resolve_data_root",
]
