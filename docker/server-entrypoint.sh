#!/bin/sh
# Entry point of the llm image: starts llm_server with its configuration taken
# from LLM_* environment variables; any arguments are appended as extra
# llm_server flags (a flag given twice: the last one wins), e.g.
#   docker run ... llm-cpp --max_slots 16 --log_level debug
# `exec` replaces this shell with the server, so the SIGTERM of `docker stop`
# reaches llm_server directly (it then drains for --grace_period seconds).
# LLM_SERVER_BIN overrides the binary (tests run this script outside Docker).
set -eu
exec "${LLM_SERVER_BIN:-/usr/local/bin/llm_server}" \
  --assets "${LLM_ASSETS_DIR:-/data/assets}" \
  --host "${LLM_HOST:-0.0.0.0}" \
  --port "${LLM_PORT:-50051}" \
  --tokenizer_name "${LLM_TOKENIZER:-default_10k}" \
  --checkpoint_name "${LLM_MODEL:-default_1m}" \
  --checkpoint_iter "${LLM_CHECKPOINT_ITER:-${LLM_MODEL_STEPS:-1500}}" \
  --grace_period "${LLM_GRACE_PERIOD:-10}" \
  "$@"
