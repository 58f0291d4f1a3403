# Sourced by the scripts: picks a Java 25+ and quiets Maven on it. No pipe into `grep -q` here or
# in the scripts: under `set -o pipefail` the writer can die of SIGPIPE once grep has its match and
# exits, which fails the check at random (it did in CI on `ldd | grep -q`).
java_ok() { [ -x "$1/bin/java" ] && grep -qE 'version "(2[5-9]|[3-9][0-9])' <<<"$("$1/bin/java" -version 2>&1)"; }
if [ -z "${JAVA_HOME:-}" ] || ! java_ok "$JAVA_HOME"; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
# Maven 3.8 on JDK 25 warns about sun.misc.Unsafe on every run; the warning is not ours.
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
