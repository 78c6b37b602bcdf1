#!/bin/sh
# The `prepare` service of docker-compose.yml: makes sure the assets volume
# holds the corpus splits, the tokenizer and the model the server will load,
# training them when missing, and does nothing when they exist (so it is cheap
# on every `docker compose up`). The steps are those of scripts/run.sh: both
# call scripts/prepare_assets.sh (installed as /usr/local/lib/llm/).
#
# Inside a container there is no ../shared copy of the corpus: download_data
# fetches the public URL; offline, mount the file and set LLM_CORPUS_FROM
# (or pass --from PATH), e.g.
#   docker compose run --rm -v "$PWD/shakespeare.txt:/corpus.txt:ro" \
#     -e LLM_CORPUS_FROM=/corpus.txt prepare
set -eu
: "${LLM_ASSETS_DIR:=/data/assets}"
export LLM_ASSETS_DIR
export LLM_BIN_DIR="${LLM_BIN_DIR:-/usr/local/bin}"
if ! mkdir -p "$LLM_ASSETS_DIR" || ! [ -w "$LLM_ASSETS_DIR" ]; then
  echo "prepare: $LLM_ASSETS_DIR is not writable by uid $(id -u); mount a volume owned by it" >&2
  exit 1
fi
exec "${LLM_PREPARE_SCRIPT:-/usr/local/lib/llm/prepare_assets.sh}" "$@"
