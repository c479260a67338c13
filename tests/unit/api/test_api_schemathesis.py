"""schemathesis against api-interface/rest-api-spec.yaml, in process (WSGI): generated requests,
with the token, find no 5xx and no response that breaks the spec (status code, content type,
headers, body schema), both for data that fits the spec and for data that does not (negative
mode). Pending approvals exist, so the decision paths are reached.

Each operation is one pytest test that runs Hypothesis over schemathesis' strategy for it
(schemathesis' own pytest loader `from_fixture` does not work with pytest 9).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from raydeploy import checkpoints as registry
from tests import api_stub
from tests.unit.api.conftest import request_approval

SPEC = Path(__file__).resolve().parents[3] / "api-interface" / "rest-api-spec.yaml"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
EXAMPLES = 40
RUN_ID = "20260101T000000-abc123"
# Path parameters drawn from real names half the time, so 200, 400 and 409 are reached, not only 404.
REAL = {"name": [c.name for c in registry.load()],
        "node": [n["node_ip"] for n in api_stub.NODES] + [n["node_id"] for n in api_stub.NODES],
        "run_id": [RUN_ID]}


def test_every_operation_of_the_spec_is_tested():
    assert len(OPERATIONS) == 18


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_api_conforms_to_its_spec(app, token, operation, mode):
    request_approval(app, "cleanup-existing")
    request_approval(app, "docker-installation")
    state = app.extensions["raydeploy"].state
    state.audit("run_started", run=RUN_ID, command="test", plan=["ray-deployment"])
    SCHEMA.app = app
    headers = {"Authorization": f"Bearer {token}"}
    seen: set[int] = set()

    @given(case=operation.as_strategy(mode), real=st.booleans(), pick=st.integers(0, 100))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case, real, pick):
        for param, values in REAL.items():
            if real and case.path_parameters and param in case.path_parameters:
                case.path_parameters[param] = values[pick % len(values)]
        response = case.call_and_validate(headers=headers, checks=CHECKS, app=app)
        seen.add(response.status_code)

    try:
        run()
    except Unsatisfiable:
        if mode != GenerationMode.NEGATIVE:
            raise
        assert operation.path == "/healthz"  # no parameter, header or body to get wrong
    assert seen or mode == GenerationMode.NEGATIVE, "no request was made"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_without_a_token_only_the_probe_answers(app, operation):
    SCHEMA.app = app

    @given(case=operation.as_strategy())
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        response = case.call(app=app)
        if operation.path == "/healthz":
            assert response.status_code == 200
        else:
            assert response.status_code == 401, (operation.path, response.status_code)

    run()
