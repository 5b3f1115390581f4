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
#   - the rest of the checkout closed to others (.git above all) except what learners run
#     and read: .venv, mlcourse/, hub/, notebooks/ and the top-level docs; the roster 0600;
#   - a private folder on the way to the venv's Python (/root, for a pyenv or a checkout
#     there) opened for search only, its other entries closed to others;
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
# (a pyenv under /root, a checkout in root's home) must let others pass (x, not r: nothing
# there can be listed). A folder others could not even pass was private (a home): one this
# script opens, now or before ($STATE/opened-folders), keeps open only that way through;
# every other entry in it (root's dotfiles, caches, histories) is closed to others, at each
# run, so a learner cannot read one by its well-known name.
opened="$STATE/opened-folders"
(umask 077; touch "$opened")
declare -A on_path=()
targets=("$(readlink -f "$PY")" "$REPO/.venv/bin/python")
for target in "${targets[@]}"; do
  p="$target"
  while [ "$p" != / ]; do on_path["$p"]=1; p="$(dirname "$p")"; done
done
for target in "${targets[@]}"; do
  dir="$(dirname "$target")"
  while [ "$dir" != / ]; do
    mode="0$(stat -c %a "$dir")"
    if [ "$(( mode & 1 ))" = 0 ]; then
      chmod o+x "$dir"
      grep -qxF "$dir" "$opened" || echo "$dir" >> "$opened"
      echo "opened $dir to others for search (o+x), so learners reach $target"
    fi
    if [ "$(( mode & 4 ))" = 0 ] && grep -qxF "$dir" "$opened"; then
      for entry in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
        [ -e "$entry" ] && [ ! -L "$entry" ] && [ -z "${on_path[$entry]:-}" ] || continue
        if [ "$(( 0$(stat -c %a "$entry") & 7 ))" != 0 ]; then
          chmod o-rwx "$entry"
          echo "closed $entry to others ($dir is open to them only on the way to Python)"
        fi
      done
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

# The roster may hold passwords: root's alone (the hub reads it as root).
chmod 0600 "$ROSTER"

# The rest of the checkout. Learners need the venv, the mlcourse package (installed
# editable: imported from here), hub/ (their Lab's settings) and the released notebooks/;
# the few files beside them hold nothing of the answers. Every other top-level entry loses
# all access for others: .git (every solution and hidden test is in its objects, whatever
# the work tree's modes), solutions/, grader/ (gradebook, submissions), tests/, .ci/
# (artifacts), benchmarks/, caches, and whatever a later commit adds at the top (a list of
# what stays open, not of what to close). Closing the top folder is enough and survives a
# pull: git never changes the mode of a folder it already has, and files it writes later
# inside a closed folder cannot be reached. Root (make test, git) is not affected.
LEARNERS_READ=" .venv mlcourse mlcourse.egg-info hub lab notebooks README.md pyproject.toml environment.yml Makefile .gitignore "
closed=()
for entry in "$REPO"/* "$REPO"/.[!.]* "$REPO"/..?*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  name="${entry##*/}"
  case "$LEARNERS_READ" in *" $name "*) continue;; esac
  if [ -L "$entry" ]; then
    echo "left $entry as it is (a link: close what it points to)" >&2
  elif [ "$(( 0$(stat -c %a "$entry") & 7 ))" != 0 ]; then
    chmod o-rwx "$entry"
    closed+=("$name")
  fi
done
[ ${#closed[@]} -eq 0 ] || echo "closed to learners in $REPO: ${closed[*]}"

# Each learner must be able to run the venv's Python and import the package, and must not
# read the repository's history.
while IFS=, read -r user role _; do
  user="${user//[[:space:]]/}"
  [ -z "$user" ] || [ "$user" = username ] && continue
  runuser -u "$user" -- "$PY" -c "import mlcourse, nbgrader, jupyterhub" 2>/dev/null || {
    echo "$user cannot run $PY (import mlcourse): every folder above $REPO must be" \
         "readable and searchable by others (chmod o+rx)" >&2
    exit 1
  }
  if [ -e "$REPO/.git" ] && runuser -u "$user" -- test -r "$REPO/.git" 2>/dev/null; then
    echo "$user can read $REPO/.git (and so every solution in it): is $user in its group?" >&2
    exit 1
  fi
  break
done < "$ROSTER"
echo "hub ready: roster $ROSTER, exchange $EXCHANGE, course $COURSE, state $STATE"
