#!/usr/bin/env bash
# Build a free-threaded CPython (3.14t), LiteLLM and fast-litellm for it, and run the stress
# trials without a GIL. Takes ~30 minutes on 2 cores (CPython ~5, LiteLLM's Rust sdist ~18);
# not part of CI. Everything goes under $WORK (default /tmp/fast-litellm-ft).
#
# Only the package registries are reachable here: CPython's source comes from Debian's archive
# (its *.orig.tar.xz is python.org's tarball; the checksum below is python.org's), LiteLLM from
# PyPI. LiteLLM publishes no free-threaded wheel (only cp310-abi3), so its sdist is built; its
# Cargo.lock pins webpki-roots 1.0.11, which this crates.io mirror lacks, hence the precise
# downgrade. LiteLLM's own native module declares that it needs the GIL, so the interpreter
# turns the GIL back on when LiteLLM loads unless PYTHON_GIL=0 (set below).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${WORK:-/tmp/fast-litellm-ft}
PREFIX=$WORK/python
VERSION=3.14.4
SHA256=d923c51303e38e249136fc1bdf3568d56ecb03214efdef48516176d3d7faaef8
mkdir -p "$WORK"

if [ ! -x "$PREFIX/bin/python3.14t" ]; then
  echo "== CPython $VERSION, free-threaded"
  curl -fsS -o "$WORK/python.tar.xz" "http://deb.debian.org/debian/pool/main/p/python3.14/python3.14_$VERSION.orig.tar.xz"
  echo "$SHA256  $WORK/python.tar.xz" | sha256sum -c -
  apt-get install -y -q build-essential pkg-config libssl-dev zlib1g-dev libffi-dev libbz2-dev \
    liblzma-dev libsqlite3-dev libreadline-dev libncurses-dev uuid-dev >/dev/null
  tar xf "$WORK/python.tar.xz" -C "$WORK"
  (cd "$WORK/Python-$VERSION" && ./configure --disable-gil --prefix="$PREFIX" >/dev/null \
    && make -j"$(nproc)" >/dev/null && make install >/dev/null)
fi
"$PREFIX/bin/python3.14t" -c "import sys; assert not sys._is_gil_enabled(); print(sys.version)"

VENV=$WORK/venv
[ -x "$VENV/bin/python" ] || "$PREFIX/bin/python3.14t" -m venv "$VENV"
"$VENV/bin/pip" install -q maturin pytest hypothesis pyyaml

if ! "$VENV/bin/python" -c "import litellm" 2>/dev/null; then
  echo "== LiteLLM 1.110.2 from its sdist"
  # Not `pip download`: it prepares the sdist's metadata, which fails before the pin is moved.
  mkdir -p "$WORK/sdist"
  URL=$("$VENV/bin/python" - <<'PY'
import json, urllib.request
request = urllib.request.Request("https://pypi.org/simple/litellm/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(request, timeout=60))["files"]
print(next(f["url"] for f in files if f["filename"] == "litellm-1.110.2.tar.gz"))
PY
)
  curl -fsS -o "$WORK/sdist/litellm-1.110.2.tar.gz" "$URL"
  echo "a483c8d3078c1bd27a9fe9c831ac2ce09d41b728a7ea6e9a3ce48db276edeef5  $WORK/sdist/litellm-1.110.2.tar.gz" | sha256sum -c -
  rm -rf "$WORK/litellm-src" && mkdir -p "$WORK/litellm-src"
  tar xf "$WORK"/sdist/litellm-1.110.2.tar.gz -C "$WORK/litellm-src"
  SRC=$WORK/litellm-src/litellm-1.110.2
  (cd "$SRC/litellm-rust" && cargo update -q -p webpki-roots --precise 1.0.10)
  "$VENV/bin/pip" install -q "$SRC"
fi

echo "== fast-litellm for 3.14t"
CARGO_TARGET_DIR=$WORK/target "$VENV/bin/maturin" build -q --release -i "$VENV/bin/python" --out "$WORK/wheels"
"$VENV/bin/pip" install -q --no-deps --force-reinstall "$WORK"/wheels/fast_litellm-*-cp314-cp314t-*.whl

echo "== stress without a GIL"
export PYTHON_GIL=0 LITELLM_LOCAL_MODEL_COST_MAP=True
cd "$WORK"  # import the installed wheel, not the source tree
"$VENV/bin/python" -c "import sys, fast_litellm, litellm; assert not sys._is_gil_enabled(); print('GIL disabled')"
"$VENV/bin/python" "$ROOT/tests/stress_tokens.py" --runs "${RUNS:-20}" --threads 8 --rounds 2 --mutate
"$VENV/bin/python" "$ROOT/tests/stress_tokens.py" --runs 3 --threads 32 --rounds 2
"$VENV/bin/python" "$ROOT/tests/stress_tokens.py" --runs 3 --scenario fork --threads 4
"$VENV/bin/python" "$ROOT/tests/stress_tokens.py" --runs 3 --scenario event-loop
