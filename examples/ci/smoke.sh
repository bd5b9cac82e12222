#!/usr/bin/env bash
# The steps of a CI job that smoke-tests a project's task queue with lab, as one script (the GitHub Actions and
# GitLab CI files beside it run the same `lab` commands as separate steps). Needs `lab` installed in the project
# (npm install --save-dev lab@file:queue-lab-<version>.tgz, or lab@git+https://…) and, in the environment,
# RABBITMQ_URL and REDIS_URL of a RabbitMQ and a Redis that already run.
#   LAB_INVENTORY    the lab's inventory (default: the example that comes with lab)
#   LAB_REPORTS_DIR  where run records, junit.xml and report.html go (default: lab-reports)
set -euo pipefail
: "${RABBITMQ_URL:?set RABBITMQ_URL to the broker's amqp:// URL}"
: "${REDIS_URL:?set REDIS_URL to the backend's redis:// URL}"
LAB_INVENTORY=${LAB_INVENTORY:-node_modules/lab/examples/ci/lab-ci.yaml}
export LAB_REPORTS_DIR=${LAB_REPORTS_DIR:-lab-reports}

status=0
npx lab up --hosts "$LAB_INVENTORY"
npx lab run smoke --junit "$LAB_REPORTS_DIR/junit.xml" || status=$?
if [ "$status" -eq 0 ]; then
  npx lab report --check --max currency:distributed/sequential=0.8 || status=$?
fi
npx lab report --format html --out "$LAB_REPORTS_DIR/report.html" || true
npx lab down
exit "$status"
