#!/usr/bin/env bash
# The deployment benchmarks in one command (issue 8): Ray's cluster launcher (`ray up`, local
# provider) against checkpoint 04 on fresh sandbox hosts for N = 3 and 6, then how 01->04 grows
# with 1, 3 and 6 hosts, the floor under that growth (the same hosts' least work, without
# Ansible) and what one task costs on 1 host and on 6, what the controller's caches and the
# small fact subset buy a cold 04, and what caching docker mode's Ray image buys.
# Results: benchmarks/results/{launcher_vs_raydeploy,deploy_growth,growth_floor,task_scaling,controller_caches,docker_images}.{json,md}.
# Takes about an hour on 2 cores; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
raydeploy sandbox engine
# `ray up` syncs files with rsync from the controller.
command -v rsync >/dev/null || { apt-get update -qq && apt-get install -y -qq rsync; }
python benchmarks/launcher_vs_raydeploy.py --hosts 3 --hosts 6 "$@"
# The growth runs start after the last benchmark's removed sandboxes no longer slow the disk's
# file creation (RECENT_DELETE_WINDOW_S in benchmarks/common.py): about 6 minutes each.
quiet_disk() { (cd benchmarks && python -c 'import common; common.wait_out_recent_deletes()'); }
quiet_disk
python benchmarks/deploy_growth.py --hosts 1 --hosts 3 --hosts 6
quiet_disk
python benchmarks/growth_floor.py --hosts 1 --hosts 3 --hosts 6 --repeat 2
# No quiet_disk first: with pipelining its tasks write no files on the hosts.
python benchmarks/task_scaling.py --repeat 2
python benchmarks/controller_caches.py --hosts 3
python benchmarks/docker_images.py --hosts 3
