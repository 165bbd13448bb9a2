"""Schemathesis hooks for Subcon's API run (scripts/fuzz_api.sh): an .xlsx upload is a binary body,
so the workbook import gets the same raw-bytes serializer schemathesis uses for octet-stream."""
import schemathesis

schemathesis.serializer.alias("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream")
