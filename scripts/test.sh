#!/usr/bin/env bash
# Runs every test (C shim build, PyTorch reference fixtures, JUnit suites). Needs scripts/setup.sh's packages.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# Maven 3.8 on JDK 25 warns about sun.misc.Unsafe on every run; the warning is not ours.
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
cd "$ROOT" && exec mvn -B install "$@"
