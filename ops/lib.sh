# Shared by the ops scripts (sourced, not run).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# A PostgreSQL client binary: on PATH, else the newest under /usr/lib/postgresql.
pg_bin() {
  local found
  found=$(command -v "$1" 2>/dev/null || true)
  [ -n "$found" ] || found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] || die "$1 not found; install PostgreSQL's client (Debian: apt-get install postgresql-client)"
  echo "$found"
}

# DATABASE_URL, or the local cluster's (started if needed). The scripts need a postgres:// URL (libpq reads it).
database_url() {
  local url=${DATABASE_URL:-}
  [ -n "$url" ] || url=$("$repo/ops/pg-local" start)
  case "$url" in postgres://*|postgresql://*) ;; *) die "DATABASE_URL must be a postgres:// URL for this script" ;; esac
  echo "$url"
}

# The database name of a postgres:// URL, and the same URL on the maintenance database.
url_database() { local path=${1#*://*/}; path=${path%%\?*}; echo "${path:-postgres}"; }
url_with_database() {
  local url=$1 db=$2 query=""
  case "$url" in *\?*) query="?${url#*\?}"; url=${url%%\?*} ;; esac
  echo "${url%/*}/$db$query"
}

# The built server: EVERRUNS_HOST_DLL, else a Release build of this checkout.
host_dll() {
  if [ -n "${EVERRUNS_HOST_DLL:-}" ]; then echo "$EVERRUNS_HOST_DLL"; return; fi
  dotnet build "$repo/src/Host/Everruns.Host.csproj" -c Release -nologo -v quiet >&2 || die "build failed"
  echo "$repo/src/Host/bin/Release/net10.0/Everruns.Host.dll"
}

run_host() { local dll; dll=$(host_dll); (cd "$(dirname "$dll")" && DATABASE_URL="$DATABASE_URL" dotnet "$(basename "$dll")" "$@"); }

# Local development only: API_KEY_SECRET and SECRETS_ENCRYPTION_KEY from .local/secrets.env, generated on first use
# (mode 600). A deployment sets its own in the environment; nothing here runs when API_KEY_SECRET is already set.
local_secrets() {
  [ -z "${API_KEY_SECRET:-}" ] || return 0
  local file="$repo/.local/secrets.env"
  if [ ! -f "$file" ]; then
    mkdir -p "$repo/.local"
    (umask 077; printf 'API_KEY_SECRET=%s\nSECRETS_ENCRYPTION_KEY=%s\n' \
      "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >"$file")
    echo "Generated local secrets in .local/secrets.env" >&2
  fi
  set -a; . "$file"; set +a
}
