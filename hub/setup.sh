#!/usr/bin/env bash
# Prepares this machine for the class hub (make hub runs it; run it again after adding
# people to the roster). As root, from the project's files only:
#   - configurable-http-proxy from npm into hub/node_modules (hub/package-lock.json);
#   - one system user per roster line (home 0700), with the roster's password or, when its
#     password column is empty, a random one written to $STATE/passwords.csv (0600);
#   - nbgrader's exchange ($MLCOURSE_EXCHANGE, /srv/nbgrader/exchange): root-owned, 1777 as
#     nbgrader's docs ask (anyone may create in it; the sticky bit keeps each course folder
#     its maker's);
#   - the course (grader/, or $MLCOURSE_COURSE_ROOT) and solutions/ closed to everyone but
#     root and the instructors' group (mlcourse-staff);
#   - the hub's state folder ($MLCOURSE_HUB_STATE, /srv/mlcourse-hub), root only.
# JupyterHub itself is in the project's venv (pyproject.toml's `hub` extra; make builds it).
set -euo pipefail
HUB="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HUB")"
ROSTER="${MLCOURSE_HUB_ROSTER:-$HUB/roster.csv}"
STATE="${MLCOURSE_HUB_STATE:-/srv/mlcourse-hub}"
EXCHANGE="${MLCOURSE_EXCHANGE:-/srv/nbgrader/exchange}"
COURSE="${MLCOURSE_COURSE_ROOT:-$REPO/grader}"
STAFF=mlcourse-staff
PY="$REPO/.venv/bin/python"

if [ "$(id -u)" != 0 ]; then
  echo "hub/setup.sh makes system users and must run as root" >&2
  exit 1
fi
"$PY" -c "import jupyterhub, jupyterhub_idle_culler" 2>/dev/null || {
  echo "JupyterHub is not in $REPO/.venv: run make venv (pyproject.toml's hub extra)" >&2
  exit 1
}

if [ ! -x "$HUB/node_modules/.bin/configurable-http-proxy" ]; then
  echo "installing configurable-http-proxy into hub/node_modules (npm)"
  (cd "$HUB" && npm ci --no-audit --no-fund --loglevel=error)
fi

install -d -m 0700 -o root -g root "$STATE"
[ -d "$(dirname "$EXCHANGE")" ] || install -d -m 0755 -o root -g root "$(dirname "$EXCHANGE")"
install -d -m 1777 -o root -g root "$EXCHANGE"

# Learners' servers run the venv's Python as the learners: every folder on the way to it
# (a pyenv under /root, say) must let others pass (x, not r: nothing there can be listed).
for target in "$(readlink -f "$PY")" "$REPO/.venv/bin/python"; do
  dir="$(dirname "$target")"
  while [ "$dir" != / ]; do
    if [ "$(( 0$(stat -c %a "$dir") & 1 ))" = 0 ]; then
      chmod o+x "$dir"
      echo "opened $dir to others for search (o+x), so learners reach $target"
    fi
    dir="$(dirname "$dir")"
  done
done

getent group "$STAFF" >/dev/null || groupadd --system "$STAFF"
passwords="$STATE/passwords.csv"
while IFS=, read -r user role password _; do
  user="${user//[[:space:]]/}"; role="${role//[[:space:]]/}"; password="${password%$'\r'}"
  [ -z "$user" ] || [ "$user" = username ] && continue
  case "$role" in learner|instructor) ;; *) echo "$ROSTER: bad role '$role' for $user" >&2; exit 1;; esac
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$user"
    if [ -z "$password" ]; then
      password="$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
      (umask 077; echo "$user,$password" >> "$passwords")
      echo "made $user ($role); password in $passwords"
    else
      echo "made $user ($role)"
    fi
    echo "$user:$password" | chpasswd
  elif [ -n "$password" ]; then
    echo "$user:$password" | chpasswd
  fi
  chmod 0700 "$(getent passwd "$user" | cut -d: -f6)"
  if [ "$role" = instructor ]; then usermod -a -G "$STAFF" "$user"; fi
done < "$ROSTER"

# Learners run the project's Python and read the course package, never the answers or
# the gradebook: solutions/ and the course folder belong to root and the staff group.
for dir in "$COURSE" "$(dirname "$COURSE")/solutions" "$REPO/solutions"; do
  [ -d "$dir" ] || continue
  chgrp -R "$STAFF" "$dir"
  chmod -R g+rwX "$dir"
  chmod 2770 "$dir"
done

# Each learner must be able to run the venv's Python and import the package.
while IFS=, read -r user role _; do
  user="${user//[[:space:]]/}"
  [ -z "$user" ] || [ "$user" = username ] && continue
  runuser -u "$user" -- "$PY" -c "import mlcourse, nbgrader, jupyterhub" 2>/dev/null || {
    echo "$user cannot run $PY (import mlcourse): every folder above $REPO must be" \
         "readable and searchable by others (chmod o+rx)" >&2
    exit 1
  }
  break
done < "$ROSTER"
echo "hub ready: roster $ROSTER, exchange $EXCHANGE, course $COURSE, state $STATE"
