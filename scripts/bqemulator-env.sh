#!/usr/bin/env bash
# Build (once) the private virtual environment the BigQuery tests run `bqemulator` from, and
# print its directory. The emulator pins packages Airflow's venv cannot take (its own duckdb,
# grpcio, fastapi...), so it lives apart from .venv, under a cache folder a fresh CI machine fills
# on first use (~10-60 s with uv; PyPI only).
#
#   scripts/bqemulator-env.sh            -> prints e.g. ~/.cache/headwater/bqemulator-1.4.0
#   BQEMULATOR_ENV=/some/dir scripts/...  -> builds it there instead
#
# The DuckDB spatial extension is installed from the `duckdb-extension-spatial` wheel into the
# environment's own DuckDB home (`<env>/home`): the emulator INSTALLs it at start and would
# otherwise try to download it (and hang without network). Start the emulator with
# HOME=<env>/home and BQEMU_ENABLE_FORMAT_EXTENSIONS=false (no Avro download either).
set -euo pipefail

VERSION=1.4.0
ENV_DIR=${BQEMULATOR_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/headwater/bqemulator-$VERSION}
STAMP="$ENV_DIR/.ready"
export UV_PYTHON_DOWNLOADS=never

if [[ -f "$STAMP" ]]; then
    echo "$ENV_DIR"
    exit 0
fi

UV=$(command -v uv || true)
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [[ -z "$UV" ]]; then
    # the Makefile installs uv into the machine's Python; the project venv has it on CI too
    if "$PY" -m uv --version >/dev/null 2>&1; then UV="$PY -m uv"; else
        echo "bqemulator-env: uv not found (pip install uv)" >&2; exit 1
    fi
fi

rm -rf "$ENV_DIR"
mkdir -p "$(dirname "$ENV_DIR")"
$UV venv -q --python "$PY" "$ENV_DIR" >&2
# numpy: the emulator imports it without declaring it. The extension wheel matches duckdb's version.
$UV pip install -q --python "$ENV_DIR/bin/python" "bqemulator==$VERSION" numpy duckdb-extension-spatial >&2
mkdir -p "$ENV_DIR/home"
HOME="$ENV_DIR/home" "$ENV_DIR/bin/python" - <<'PY' >&2
import pathlib, duckdb, duckdb_extension_spatial
root = pathlib.Path(duckdb_extension_spatial.__file__).parent / "extensions"
ext = next(root.rglob("spatial.duckdb_extension"))
con = duckdb.connect()
con.execute(f"INSTALL '{ext}'")
con.execute("LOAD spatial")  # proves it loads offline
print(f"bqemulator-env: spatial extension installed from {ext}")
PY
touch "$STAMP"
echo "$ENV_DIR"
