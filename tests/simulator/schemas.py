"""Validate simulator JSON against the published OpenAPI schemas (OAS 3.1, $refs resolved).

One documented deviation of the real API from its spec is allowed (reference §3):
`data: null` on message events. Jobs in statuses outside the spec's enum (paused,
pausing, ...) are checked with `lenient_status`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).with_name("openai-fine-tuning.openapi.json")
_URI = "urn:openai-fine-tuning"


def _document(lenient_status: bool) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    schemas = doc["components"]["schemas"]
    event = schemas["FineTuningJobEvent"]["properties"]
    event["data"] = {"anyOf": [event["data"], {"type": "null"}]}
    if lenient_status:
        del schemas["FineTuningJob"]["properties"]["status"]["enum"]
    return doc


@functools.cache
def _registry(lenient_status: bool) -> Registry:
    resource = Resource.from_contents(_document(lenient_status), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(_URI, resource)
    return registry


def validate(instance: Any, schema: str, *, lenient_status: bool = False) -> None:
    """Raise jsonschema.ValidationError unless `instance` matches components/schemas/<schema>."""
    ref = {"$ref": f"{_URI}#/components/schemas/{schema}"}
    OAS31Validator(ref, registry=_registry(lenient_status)).validate(instance)
