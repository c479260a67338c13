#!/usr/bin/env bash
# One command from a fresh machine to a working Ray cluster on local sandbox hosts:
# installs raydeploy into .venv, starts 3 Debian hosts (systemd + sshd) as containers,
# runs all six checkpoints over real SSH, and runs a distributed job across every node.
# Sandbox hosts are disposable, so checkpoint 03's confirmation is given here.
set -euo pipefail
cd "$(dirname "$0")"
HOSTS=${HOSTS:-3}
NAME=${NAME:-sandbox}
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
raydeploy sandbox up --hosts "$HOSTS" --name "$NAME"
INVENTORY=$(raydeploy sandbox inventory --name "$NAME")
ansible -i "$INVENTORY" all -m ansible.builtin.ping -o
ansible-playbook -i "$INVENTORY" site.yml -e raydeploy_cleanup_confirmed=true
HEAD=$(ansible-inventory -i "$INVENTORY" --host "$(ansible-inventory -i "$INVENTORY" --graph head_nodes | awk -F'--' '/--/{print $2; exit}')" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ansible_host"])')
echo "== running examples/hello_ray.py on the cluster (dashboard http://$HEAD:8265)"
RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$(dirname "$INVENTORY")/.secrets/ray_auth_token" \
  ray job submit --address "http://$HEAD:8265" --working-dir examples -- python hello_ray.py --tasks 12
