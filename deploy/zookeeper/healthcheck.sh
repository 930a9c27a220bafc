#!/usr/bin/env bash
# Exits 0 when the local ZooKeeper server answers "imok" to "ruok".
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/2181
printf ruok >&3
read -r -t 5 -n 4 answer <&3
[[ $answer == imok ]]
