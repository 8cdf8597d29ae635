"""Data engine: record schema, captioners, QA generators, parsing, filters, splits, importers and the pipeline.

Public names: ``QARecord``, ``Timeline``, ``Segment``, ``QAUnit``, ``QAFailure``, ``read_records``,
``write_records``, ``generate_dataset``, ``list_videos``, ``apply_filters``, ``split_records``, ``import_file``.
The CLI is ``lvr1kit.data.cli.data_app`` (``lvr1 data ...``); sharding and resuming are described in docs/data.md.
"""

from lvr1kit.data.filters import apply_filters
from lvr1kit.data.generate import generate_dataset, list_videos
from lvr1kit.data.importers import import_file
from lvr1kit.data.io import read_records, write_records
from lvr1kit.data.schema import QAFailure, QARecord, QAUnit, Segment, Timeline
from lvr1kit.data.split import split_records

__all__ = [
    "QAFailure",
    "QARecord",
    "QAUnit",
    "Segment",
    "Timeline",
    "apply_filters",
    "generate_dataset",
    "import_file",
    "list_videos",
    "read_records",
    "split_records",
    "write_records",
]
