#!/usr/bin/env bash
# What each tuning commit bought: the no-change re-run of checkpoints 01->04 on one running
# sandbox, once per commit (a warm-up run first, so each commit's own state is recorded, then
# RUNS timed runs). Usage: benchmarks/rerun_by_commit.sh SANDBOX RUNS COMMIT[+VAR=VALUE...]...
# e.g. `HEAD HEAD+ANSIBLE_PIPELINING=False HEAD+ANSIBLE_FORKS=1` also measures Ansible settings.
# Prints one line per commit and run, and appends them to benchmarks/results/rerun_by_commit.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
sandbox=$1 runs=$2; shift 2
export PATH="$PWD/.venv/bin:$PATH"
inventory=$(raydeploy sandbox inventory --name "$sandbox")
out=benchmarks/results/rerun_by_commit.tsv
[ -f "$out" ] || printf 'date\tsandbox\tcommit\trun\t01_s\t02_s\t03_s\t04_s\ttotal_s\tchanged\tload1\n' > "$out"
now() { date +%s.%N; }
for spec in "$@"; do
  commit=${spec%%+*} settings=()
  [ "$spec" = "$commit" ] || IFS=+ read -r -a settings <<< "${spec#*+}"
  tree=$(mktemp -d /tmp/raydeploy-rerun-XXXX)
  git worktree add -q --detach "$tree" "$commit"
  for run in warmup $(seq 1 "$runs"); do
    times=() changed=0 start=$(now)
    for p in 01-prerequisites-check 02-docker-installation 03-cleanup-existing 04-ray-deployment; do
      s=$(now)
      log=$(env ${settings[@]+"${settings[@]}"} ANSIBLE_CONFIG="$tree/ansible.cfg" ansible-playbook -i "$inventory" "$tree/playbooks/$p.yml" \
            -e raydeploy_cleanup_confirmed=true 2>&1) || { echo "$log" | tail -20; exit 1; }
      times+=("$(python3 -c "print(round($(now)-$s,1))")")
      changed=$((changed + $(echo "$log" | python3 -c 'import re, sys; print(sum(map(int, re.findall(r"changed=(\d+)", sys.stdin.read()))))')))
    done
    total=$(python3 -c "print(round($(now)-$start,1))")
    label=$(git rev-parse --short "$commit")${settings[*]+ ${settings[*]}}
    line="$(date -Is)	$sandbox	$label	$run	${times[0]}	${times[1]}	${times[2]}	${times[3]}	$total	$changed	$(cut -d' ' -f1 /proc/loadavg)"
    echo "$line"
    [ "$run" = warmup ] || echo "$line" >> "$out"
  done
  git worktree remove --force "$tree"
done
