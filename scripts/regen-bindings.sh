#!/usr/bin/env bash
# Regenerates bindings/src/generated/java from native-shim/include/dishim.h with jextract.
# jextract is not in any registry: pass its directory as $JEXTRACT_HOME (default ../shared/tools/jextract,
# which needs `apt-get install libclang1-14 libclang-common-14-dev`).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JEXTRACT_HOME=${JEXTRACT_HOME:-$ROOT/../shared/tools/jextract}
. "$ROOT/scripts/lib.sh"
HEADER=$ROOT/native-shim/include/dishim.h
OUT=$ROOT/bindings/src/generated/java
PKG=dev.diffinstruct.torch.ffi
rm -rf "$OUT/dev/diffinstruct/torch/ffi"
mkdir -p "$OUT"
# No -l: the generated code looks symbols up in the class loader's libraries, and
# NativeLibrary.load() System.load()s the shim that the native-shim jar carries.
"$JEXTRACT_HOME/bin/jextract" --target-package "$PKG" --header-class-name Dishim \
  --output "$OUT" \
  $(grep -oE '^[a-z0-9_ ]*\*?\s*(dt_[a-z0-9_]+)\(' "$HEADER" | grep -oE 'dt_[a-z0-9_]+' | sed 's/^/--include-function /') \
  $(grep -oE '^#define (DT_[A-Z0-9_]+)' "$HEADER" | awk '{print "--include-constant " $2}') \
  --include-typedef dt_tensor --include-typedef dt_module --include-typedef dt_adam \
  --include-typedef dt_generator \
  "$HEADER"
# The drift check (HeaderDriftTest) compares this hash with the header's.
sha256sum "$HEADER" | awk '{print $1}' > "$OUT/dev/diffinstruct/torch/ffi/dishim.h.sha256"
echo "generated $(find "$OUT" -name '*.java' | wc -l) files into $OUT"
