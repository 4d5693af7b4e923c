#!/bin/sh
# Create ./secrets for docker-compose.yml: random passwords and tokens, Redis's users file
# (the password stored as its SHA-256) and Flower's config with its basic-auth login.
# Existing files are kept. The folder is the operator's only (0700); its files are 0644
# because the containers read them as their own users.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/secrets}"
mkdir -p "$dir"
chmod 700 "$dir"
random() { head -c 32 /dev/urandom | base64 | tr -d '/+=\n'; }
make() {
  [ -s "$dir/$1" ] && return 0
  printf '%s\n' "$2" > "$dir/$1"
  chmod 644 "$dir/$1"
}
for name in postgres_password postgres_migrate_password postgres_app_password redis_password \
    tally_metrics_token grafana_admin_password; do
  make "$name" "$(random)"
done
make tally_admin_token "tly_$(random)"
make redis_users.acl "$(sh "$root/deploy/redis/make-users-acl.sh" "$dir/redis_password")"
make flowerconfig.py "basic_auth = [\"${FLOWER_USER:-admin}:$(random)\"]"
echo "secrets in $dir (Flower's login is in flowerconfig.py)"
