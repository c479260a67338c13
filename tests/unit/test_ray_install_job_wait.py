"""install-job-done.yml waits for a background job's result file with a regular expression that
must tell async_wrapper's "started" record from the job's result, in the Ansible installed here:
if it matched the start record the wait would return at once, and if it never matched a result
each host would sit out the whole timeout before polling."""

from __future__ import annotations

import re

import pytest
import yaml
from ansible.modules import async_wrapper

from tests.conftest import PROJECT

TASK = yaml.safe_load((PROJECT / "roles/ray_common/tasks/install-job-done.yml").read_text())[0]
DONE = re.compile(TASK["ansible.builtin.wait_for"]["search_regex"], re.MULTILINE)


@pytest.fixture
def job_file(tmp_path, monkeypatch):
    path = tmp_path / "123.456"
    monkeypatch.setattr(async_wrapper, "job_path", str(path), raising=False)
    return path


def test_the_start_record_is_not_a_result(job_file):
    async_wrapper.jwrite({"started": True, "finished": False, "ansible_job_id": "123.456"})
    assert not DONE.search(job_file.read_text())


@pytest.mark.parametrize("result", [
    {"changed": True, "stdout": "", "stderr": "Installed 40 packages\n{\"started\": 1}", "rc": 0,
     "cmd": ["uv"], "start": "2026-11-29 07:00:00", "end": "2026-11-29 07:00:09"},
    {"failed": True, "cmd": "x", "msg": "Timeout exceeded", "child_pid": 7},
    {"msg": "Timeout exceeded", "failed": True, "child_pid": 7},
])
def test_every_result_is_seen(job_file, result):
    async_wrapper.jwrite({"started": True, "finished": False, "ansible_job_id": "123.456"})
    async_wrapper.jwrite(result)
    assert DONE.search(job_file.read_text())
