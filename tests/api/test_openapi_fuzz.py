"""Schemathesis over the served OpenAPI document: every operation, positive and negative
data, every check (no 500, documented status codes, content types and headers, answers
matching their schemas, negative data refused, positive data accepted, authentication
enforced).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from app.api.openapi import openapi_document
from tests.factories import make_staff, make_token

PASSWORD = "un-mot-de-passe-long"


@pytest.fixture
def token(app: Flask, school: None) -> str:
    """A device token that may post scans (naming their station) and read."""
    return make_token(read=True, name="schemathesis")


# The document the API serves at /api/v1/openapi.json (a test checks they are the same).
schema = schemathesis.openapi.from_dict(openapi_document())
# A well-formed scan the shop's rules refuse (an unknown badge, a station not found) is
# answered 422 and recorded: the API accepted the input, the rules said no (docs/contract.md
# §5). Malformed input gets 400, which this check still counts as rejecting valid data.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    *schema.config.checks.positive_data_acceptance.expected_statuses,
    "422",
]


@schema.parametrize()
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_the_promises_of_its_openapi_document(
    case: Any, app: Flask, token: str
) -> None:
    # This test's app (each test gets its own database): every call of the case, the
    # checks' own probes included, goes to it in-process, as with from_wsgi.
    case.operation.schema.app = case.operation.app = app
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})


def test_the_fuzzed_document_is_the_one_the_api_serves(client: Any) -> None:
    assert client.get("/api/v1/openapi.json").get_json() == openapi_document()


@pytest.fixture
def session_cookie(app: Flask, school: None) -> str:
    """The session cookie of a signed-in teacher (the review API is for staff only)."""
    make_staff("prof@example.org", PASSWORD)
    client = app.test_client()
    client.post("/connexion", data={"email": "prof@example.org", "password": PASSWORD})
    cookie = client.get_cookie("session")
    assert cookie is not None, "the teacher could not sign in"
    return cookie.value


@schema.include(path_regex="reviews|review|welds|record").parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_staff_api_keeps_its_promises_for_a_signed_in_teacher(
    case: Any, app: Flask, session_cookie: str
) -> None:
    # With the bearer token above these answer 403 at once: signed in, the fuzzer reaches
    # their validation. A request with its cookie removed counts, for schemathesis, as
    # invalid data refused or as ignored authentication: those two checks are left out.
    case.operation.schema.app = case.operation.app = app
    checks = schemathesis.checks
    case.call_and_validate(
        cookies={"session": session_cookie},
        checks=[
            checks.not_a_server_error,
            checks.response_schema_conformance,
            checks.status_code_conformance,
            checks.content_type_conformance,
        ],
        excluded_checks=[
            checks.negative_data_rejection,
            checks.ignored_auth,
            checks.positive_data_acceptance,
        ],
    )
