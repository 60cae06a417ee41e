#!/bin/sh
# The container's entry point: secrets from files (Docker/Compose secrets under
# /run/secrets), then the program as PID 1, so that `docker stop`'s SIGTERM reaches it.
# For each NAME below, NAME_FILE=/run/secrets/x sets NAME to the file's content (the
# convention of the official PostgreSQL image): DATABASE_URL, PGPASSWORD (the PostgreSQL
# password, when DATABASE_URL has none), OPENAI_API_KEY, ANTHROPIC_API_KEY, HF_TOKEN.
set -eu
for name in DATABASE_URL PGPASSWORD OPENAI_API_KEY ANTHROPIC_API_KEY HF_TOKEN; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        if [ ! -r "$file" ]; then
            echo "error: ${name}_FILE=$file cannot be read by uid $(id -u) (owner and mode of the secret)" >&2
            exit 2
        fi
        value=$(cat "$file")
        export "$name=$value"
        unset "${name}_FILE"
    fi
done
exec /usr/bin/epicrisis "$@"
