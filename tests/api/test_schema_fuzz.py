"""Schema-driven fuzzing (schemathesis over /openapi.json) of every endpoint of a real `regcite serve`: valid and
invalid requests, a bounded number of each, and no 5xx, every status documented, every body matching the schema."""
from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import REG_B_QUESTION

pytestmark = pytest.mark.e2e

VALID_EXAMPLES = 12  # per operation; with the invalid ones the whole run stays well under two minutes on 2 cores
INVALID_EXAMPLES = 6
PARAMETERLESS = ("GET /v1/documents", "GET /v1/models", "GET /v1/health")


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                                   response_schema_conformance, status_code_conformance)

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
            response_schema_conformance]


def test_every_endpoint_survives_schema_driven_fuzzing(served):
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    # one real answer first, so GET /v1/answers/{id} and the review endpoint also meet an id that exists
    answer_id = httpx.post(f"{served.v1}/ask", json={"question": REG_B_QUESTION}, timeout=60).json()["answer_id"]
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = sorted(op.label for op in operations)
    assert labels == sorted([
        "POST /v1/ask", "GET /v1/search", "GET /v1/documents", "GET /v1/documents/{doc_id}/versions",
        "GET /v1/clauses/{clause_id}", "GET /v1/diff", "GET /v1/answers/{answer_id}",
        "POST /v1/answers/{answer_id}/reviews", "POST /v1/chat/completions", "GET /v1/models", "GET /v1/health"])
    checks = _checks()
    seen: dict[str, set[int]] = {}

    for op in operations:
        for mode, examples in ((GenerationMode.POSITIVE, VALID_EXAMPLES), (GenerationMode.NEGATIVE, INVALID_EXAMPLES)):
            @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def exercise(case):
                if "answer_id" in (case.path_parameters or {}) and case.path_parameters["answer_id"].startswith("0"):
                    case.path_parameters["answer_id"] = answer_id
                response = case.call(base_url=served.url, timeout=60)
                seen.setdefault(op.label, set()).add(response.status_code)
                case.validate_response(response, checks=checks)

            try:
                exercise()
            except Unsatisfiable:  # nothing to make invalid: the operation takes no parameters
                assert mode is GenerationMode.NEGATIVE and op.label in PARAMETERLESS, op.label
    assert set(seen) == set(labels) and all(status < 500 for statuses in seen.values() for status in statuses), seen
    assert 200 in seen["POST /v1/ask"] and 422 in seen["POST /v1/ask"], seen
