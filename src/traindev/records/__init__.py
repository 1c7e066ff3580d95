"""One pydantic model per JSON record a stage writes: the writer dumps it, the report and
`traindev select` validate it on read, the tests build it. One module per record family."""

from traindev.records.io import MissingReportInputError, ReportInputError, read_record, write_record

__all__ = ["MissingReportInputError", "ReportInputError", "read_record", "write_record"]
