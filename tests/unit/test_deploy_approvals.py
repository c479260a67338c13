"""The approval state machine, the digest, and every way an approval is refused (no hosts)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from raydeploy import checkpoints as registry
from raydeploy.deploy.approvals import (
    APPROVED,
    CONSUMED,
    DENIED,
    EXPIRED,
    PENDING,
    STATES,
    TRANSITIONS,
    Approval,
    ApprovalError,
    ApprovalRefused,
    ApprovalStore,
    compute_digest,
    digest_inputs,
    transition,
)
from raydeploy.deploy.store import StateDir, now

CLEANUP = registry.get("cleanup-existing")
DOCKER = registry.get("docker-installation")


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inv" / "hosts.yml"
    path.parent.mkdir()
    path.write_text("all:\n  children:\n    head_nodes:\n      hosts:\n        h1: {}\n")
    return path


@pytest.fixture
def store(tmp_path: Path) -> ApprovalStore:
    return ApprovalStore(StateDir(tmp_path / "state"))


def digest(cp, inventory, extravars=None, limit=None):
    return compute_digest(digest_inputs(cp, inventory, extravars or {}, limit))


def refusals(store: ApprovalStore) -> list[dict]:
    return [e for e in store.state.audit_entries() if e["event"] == "approval_refused"]


# -- state machine -------------------------------------------------------------------------------
def record(state: str = PENDING) -> Approval:
    return Approval(id="a" * 32, checkpoint="cleanup-existing", destructive=True, digest="sha256:x",
                    state=state, created_at="2026-01-01T00:00:00+00:00",
                    expires_at="2026-01-02T00:00:00+00:00", requested_by="me")


@pytest.mark.parametrize("start", STATES)
@pytest.mark.parametrize("end", STATES)
def test_state_machine_allows_exactly_the_documented_transitions(start, end):
    allowed = {(PENDING, APPROVED), (PENDING, DENIED), (PENDING, EXPIRED),
               (APPROVED, CONSUMED), (APPROVED, EXPIRED)}
    assert ((start, end) in allowed) == (end in TRANSITIONS[start])
    r = record(start)
    if (start, end) in allowed:
        assert transition(r, end).state == end
    else:
        with pytest.raises(ApprovalError):
            transition(r, end)
        assert r.state == start


def test_terminal_states_have_no_way_out():
    assert all(not TRANSITIONS[s] for s in (DENIED, EXPIRED, CONSUMED))


# -- digest ----------------------------------------------------------------------------------------
def test_digest_is_stable_and_covers_inventory_vars_limit_and_checkpoint(inventory):
    base = digest(CLEANUP, inventory)
    assert base == digest(CLEANUP, inventory)
    assert base.startswith("sha256:") and len(base) == 7 + 64
    assert digest(CLEANUP, inventory, {"x": 1}) != base
    assert digest(CLEANUP, inventory, limit="h1") != base
    assert digest(DOCKER, inventory) != base
    inventory.write_text(inventory.read_text() + "        h2: {}\n")
    assert digest(CLEANUP, inventory) != base


def test_digest_covers_inventory_group_vars_and_the_playbook_and_roles(inventory):
    inputs = digest_inputs(CLEANUP, inventory, {}, None)
    assert "playbooks/03-cleanup-existing.yml" in inputs
    assert any(k.startswith("roles/ray_cleanup/tasks/") for k in inputs)
    assert "playbooks/common/boilerplate.yml" in inputs
    before = compute_digest(inputs)
    (inventory.parent / "group_vars").mkdir()
    (inventory.parent / "group_vars" / "all.yml").write_text("ray_cleanup_scope: all\n")
    assert compute_digest(digest_inputs(CLEANUP, inventory, {}, None)) != before


def test_digest_ignores_the_order_of_extra_vars(inventory):
    assert digest(CLEANUP, inventory, {"a": 1, "b": 2}) == digest(CLEANUP, inventory, {"b": 2, "a": 1})


# -- store: the happy path -----------------------------------------------------------------------
def test_request_approve_consume(store, inventory):
    d = digest(CLEANUP, inventory)
    pending = store.request(CLEANUP, d, "runner@x", "run1", {"hosts": {}})
    assert pending.state == PENDING and pending.destructive
    assert store.request(CLEANUP, d, "runner@x", "run1").id == pending.id  # same digest: same request
    with pytest.raises(ApprovalError, match="acknowledge"):
        store.approve(CLEANUP.name, by="alice", reason="planned")
    with pytest.raises(ApprovalError, match="reason"):
        store.approve(CLEANUP.name, by="alice", reason=" ", acknowledge_risks=True)
    approved = store.approve(CLEANUP.name, by="alice", reason="planned", acknowledge_risks=True)
    assert (approved.state, approved.approved_by, approved.acknowledge_risks) == (APPROVED, "alice", True)
    used = store.consume(store.usable(CLEANUP.name, d), "run1")
    assert used.state == CONSUMED and used.consumed_by_run == "run1"
    events = [e["event"] for e in store.state.audit_entries()]
    assert events == ["approval_requested", "approval_granted", "approval_consumed"]
    with pytest.raises(ApprovalError, match="only a pending approval"):
        store.approve(CLEANUP.name, by="bob", reason="again", acknowledge_risks=True)
    mode = (store.path(CLEANUP.name).stat().st_mode & 0o777, store.state.root.stat().st_mode & 0o777)
    assert mode == (0o600, 0o700)


def test_deny_is_recorded_and_final(store, inventory):
    d = digest(DOCKER, inventory)
    store.request(DOCKER, d, "me", "run1")
    denied = store.deny(DOCKER.name, by="carol", reason="not today")
    assert denied.state == DENIED and denied.decided_by == "carol"
    with pytest.raises(ApprovalRefused) as err:
        store.usable(DOCKER.name, d)
    assert err.value.reason == "denied"
    with pytest.raises(ApprovalError):
        store.approve(DOCKER.name, by="carol", reason="changed my mind")


def test_approving_without_a_request_says_how_to_get_one(store):
    with pytest.raises(ApprovalError, match="no approval is pending"):
        store.approve(DOCKER.name, by="a", reason="b")


# -- refusals --------------------------------------------------------------------------------------
def approved(store, inventory, cp=CLEANUP):
    d = digest(cp, inventory)
    store.request(cp, d, "me", "run1")
    store.approve(cp.name, by="alice", reason="ok", acknowledge_risks=True)
    return d


def test_refused_when_the_digest_changed(store, inventory):
    approved(store, inventory)
    with pytest.raises(ApprovalRefused) as err:
        store.usable(CLEANUP.name, digest(CLEANUP, inventory, {"ray_cleanup_scope": "all"}))
    assert err.value.reason == "digest"


def test_refused_when_the_record_digest_is_edited(store, inventory):
    d = approved(store, inventory)
    path = store.path(CLEANUP.name)
    data = json.loads(path.read_text())
    data["digest"] = d.replace(d[-4:], "0000")
    path.write_text(json.dumps(data))
    with pytest.raises(ApprovalRefused) as err:
        store.usable(CLEANUP.name, data["digest"])  # even when it now "matches"
    assert err.value.reason == "tampered"


def test_refused_when_another_checkpoints_approval_is_swapped_in(store, inventory):
    approved(store, inventory, DOCKER)
    shutil.copy(store.path(DOCKER.name), store.path(CLEANUP.name))
    with pytest.raises(ApprovalRefused) as err:
        store.usable(CLEANUP.name, digest(CLEANUP, inventory))
    assert err.value.reason == "swapped"


def test_refused_when_a_consumed_approval_is_replayed(store, inventory):
    d = approved(store, inventory)
    saved = store.path(CLEANUP.name).read_text()
    store.consume(store.usable(CLEANUP.name, d), "run1")
    with pytest.raises(ApprovalRefused) as err:
        store.usable(CLEANUP.name, d)
    assert err.value.reason == "consumed"
    store.path(CLEANUP.name).write_text(saved)  # an old copy, still "approved" and validly sealed
    with pytest.raises(ApprovalRefused) as err:
        store.usable(CLEANUP.name, d)
    assert err.value.reason == "consumed"


def test_expired_requests_and_approvals_are_refused(store, inventory):
    d = digest(CLEANUP, inventory)
    store.request(CLEANUP, d, "me", "run1", ttl=timedelta(seconds=60))
    store.approve(CLEANUP.name, by="alice", reason="ok", acknowledge_risks=True)
    later = now() + timedelta(seconds=61)
    with pytest.raises(ApprovalRefused) as err:
        store.usable(CLEANUP.name, d, at=later)
    assert err.value.reason == "expired"
    assert store.get(CLEANUP.name).state == EXPIRED
    assert "approval_expired" in [e["event"] for e in store.state.audit_entries()]
    store.request(CLEANUP, d, "me", "run2", ttl=timedelta(seconds=60))
    with pytest.raises(ApprovalError, match="expired, it cannot become approved"):
        store.approve(CLEANUP.name, by="a", reason="b", acknowledge_risks=True, at=now() + timedelta(hours=1))


def test_refuse_logs_and_sets_the_record_aside(store, inventory):
    approved(store, inventory)
    record = store.get(CLEANUP.name)
    store.refuse(CLEANUP.name, ApprovalRefused("digest", "changed"), "run9", record)
    assert refusals(store)[-1]["reason"] == "digest"
    assert not store.path(CLEANUP.name).exists()
    assert list((store.dir / "history").glob(f"cleanup-existing-{record.id}.json"))


def test_a_new_digest_supersedes_a_pending_request(store, inventory):
    first = store.request(CLEANUP, digest(CLEANUP, inventory), "me", "run1")
    second = store.request(CLEANUP, digest(CLEANUP, inventory, limit="h1"), "me", "run2")
    assert first.id != second.id and store.get(CLEANUP.name).id == second.id


def test_digest_covers_the_roles_a_checkpoint_reaches_not_every_role():
    from raydeploy.deploy.approvals import used_roles

    assert [p.name for p in used_roles(DOCKER)] == ["docker"]
    assert "ray_cleanup" in [p.name for p in used_roles(CLEANUP)]


def test_refusing_a_swapped_record_leaves_the_other_checkpoints_record_alone(store, inventory):
    approved(store, inventory, DOCKER)
    shutil.copy(store.path(DOCKER.name), store.path(CLEANUP.name))
    record = store.get(CLEANUP.name)
    store.refuse(CLEANUP.name, ApprovalRefused("swapped", "x"), "run1", record)
    assert store.path(DOCKER.name).exists() and not store.path(CLEANUP.name).exists()


def test_a_used_record_left_in_place_is_set_aside_quietly_but_a_restored_copy_is_refused(store, inventory):
    d = approved(store, inventory)
    saved = store.path(CLEANUP.name).read_text()
    used = store.consume(store.usable(CLEANUP.name, d), "run1")
    assert store.set_aside_used(CLEANUP.name, used) and not store.path(CLEANUP.name).exists()
    store.path(CLEANUP.name).write_text(saved)
    restored = store.get(CLEANUP.name)
    assert not store.set_aside_used(CLEANUP.name, restored)
    with pytest.raises(ApprovalRefused, match="already used"):
        store.usable(CLEANUP.name, d)
