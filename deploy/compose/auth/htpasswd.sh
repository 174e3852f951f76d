#!/usr/bin/env bash
# Add a user to (or change a password in) a password file of the compose login proxy (profile auth):
#
#   bash deploy/compose/auth/htpasswd.sh operators alice   # the full UI, port 8080
#   bash deploy/compose/auth/htpasswd.sh viewers bob       # the read-only UI, port 8081
#   bash deploy/compose/auth/htpasswd.sh --delete viewers bob
#
# The password is asked twice on a terminal, or read from standard input otherwise
# (printf '%s\n' "$password" | bash deploy/compose/auth/htpasswd.sh viewers bob); it never appears on
# a command line. Only its SHA-512 crypt hash (openssl passwd -6) is written, to
# deploy/compose/auth/<operators|viewers>.htpasswd (git-ignored; HTPASSWD_DIR overrides the folder).
# Both files are created, the other one possibly empty, because the proxy starts only with both.
set -euo pipefail

dir=${HTPASSWD_DIR:-$(cd "$(dirname "$0")" && pwd)}
delete=0
if [ "${1:-}" = "--delete" ]; then delete=1; shift; fi
if [ $# -ne 2 ] || { [ "$1" != operators ] && [ "$1" != viewers ]; }; then
  echo "usage: deploy/compose/auth/htpasswd.sh [--delete] operators|viewers USER" >&2
  exit 2
fi
file="$dir/$1.htpasswd"
user=$2
if ! [[ "$user" =~ ^[A-Za-z0-9._@-]+$ ]]; then
  echo "user names are letters, digits and . _ @ - only" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "openssl is needed (Debian package openssl)" >&2; exit 2; }

umask 022  # nginx reads the files as its own user; they hold hashes only
touch "$dir/operators.htpasswd" "$dir/viewers.htpasswd"
others=$(awk -F: -v u="$user" '$1 != u' "$file")

if [ "$delete" = 1 ]; then
  printf '%s' "$others${others:+$'\n'}" > "$file"
  echo "==> $user removed from $file"
  exit 0
fi

if [ -t 0 ]; then
  read -r -s -p "password for $user: " password; echo
  read -r -s -p "again: " again; echo
  [ "$password" = "$again" ] || { echo "the two passwords differ" >&2; exit 1; }
else
  IFS= read -r password || true
fi
[ "${#password}" -ge 12 ] || { echo "use a password of at least 12 characters" >&2; exit 1; }
hash=$(printf '%s' "$password" | openssl passwd -6 -stdin)
printf '%s%s:%s\n' "$others${others:+$'\n'}" "$user" "$hash" > "$file"
echo "==> $user set in $file"
