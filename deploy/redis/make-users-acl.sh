#!/bin/sh
# Write Redis's users file from the password file: the password is stored only as its SHA-256.
#   deploy/redis/make-users-acl.sh secrets/redis_password > secrets/redis_users.acl
set -eu
digest="$(tr -d '\n' < "$1" | sha256sum | cut -d' ' -f1)"
sed "s/PASSWORD_SHA256/$digest/" "$(dirname "$0")/users.acl.template"
