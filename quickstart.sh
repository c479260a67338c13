#!/usr/bin/env bash
# One command from a fresh machine to a working Ray cluster on local sandbox hosts:
# installs raydeploy into .venv, starts 3 Debian hosts (systemd + sshd) as containers,
# runs all six checkpoints over real SSH with deploy-master.py, and runs a distributed job
# across every node, then prints the health report.
set -euo pipefail
cd "$(dirname "$0")"
HOSTS=${HOSTS:-3}
NAME=${NAME:-sandbox}
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
raydeploy sandbox up --hosts "$HOSTS" --name "$NAME"
INVENTORY=$(raydeploy sandbox inventory --name "$NAME")
ansible -i "$INVENTORY" all -m ansible.builtin.ping -o
# All six checkpoints through the orchestrator. Sandbox hosts are disposable, so the gated ones
# (02, 03) are auto-approved: each approval is still previewed, recorded and audited.
python modular-deployment/deploy-master.py --deploy --auto-approve --inventory "$INVENTORY"
HEAD=$(ansible-inventory -i "$INVENTORY" --host "$(ansible-inventory -i "$INVENTORY" --graph head_nodes | awk -F'--' '/--/{print $2; exit}')" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ansible_host"])')
echo "== running examples/hello_ray.py on the cluster (dashboard http://$HEAD:8265)"
RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$(dirname "$INVENTORY")/.secrets/ray_auth_token" \
  ray job submit --address "http://$HEAD:8265" --working-dir examples -- python hello_ray.py --tasks 12
echo "== health report (validation/validate_checkpoint.py; exit 0 healthy, 1 degraded, 2 failed)"
# Sandbox hosts all report this machine's load, so the per-host load score threshold is the
# sandbox inventory's (final_validation_max_score), not seed 002's 200 for real servers.
python validation/validate_checkpoint.py --format text --inventory "$INVENTORY" --max-score 1000
