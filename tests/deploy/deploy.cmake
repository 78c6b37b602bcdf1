# Deployment tests (docker/, scripts/prepare_assets.sh) that need no Docker
# engine. Python scripts run with Debian's /usr/bin/python3 (python3-yaml,
# python3-grpcio); exit code 77 means skipped (missing tool or corpus).
# Loopback only, each bounded in time.
set(_deploy_env
  "LLM_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
  "LLM_BINARY_DIR=${CMAKE_BINARY_DIR}"
  "OPENBLAS_NUM_THREADS=1")

# Structure of docker-compose.yml, Dockerfile, nginx.conf, .dockerignore;
# runtime packages of the Dockerfile vs ldd of the built binaries.
add_test(NAME deploy_compose_structure
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/deploy/compose_test.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})

# docker/prepare.sh + scripts/prepare_assets.sh (idempotent), the image's
# entrypoint (exec, env config, SIGTERM drain) and its HEALTHCHECK command.
add_test(NAME deploy_scripts
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/deploy/scripts_test.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})

# The real nginx with docker/nginx.conf in front of three llm_server replicas.
add_test(NAME deploy_nginx_lb
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/deploy/nginx_lb_test.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})

# Zero-downtime model upgrade behind nginx (new replicas, reload, drain old).
add_test(NAME deploy_nginx_upgrade
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/deploy/nginx_upgrade_test.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})

set_tests_properties(deploy_compose_structure deploy_scripts deploy_nginx_lb deploy_nginx_upgrade PROPERTIES
  ENVIRONMENT "${_deploy_env}"
  SKIP_RETURN_CODE 77
  LABELS deploy)
set_tests_properties(deploy_compose_structure PROPERTIES TIMEOUT 60)
set_tests_properties(deploy_scripts PROPERTIES TIMEOUT 180)
set_tests_properties(deploy_nginx_lb deploy_nginx_upgrade PROPERTIES TIMEOUT 180)
