#!/usr/bin/env bash
# Installs what some unit tests need from Debian, when it is missing:
#   - libonnx-testdata: ONNX's operator conformance tests (ONNX 1.12's onnx/backend/test/data),
#     for test/unit/shapes/conformance.test.ts;
#   - qemu-user: qemu-x86_64 -cpu Haswell runs Node on an emulated AVX2 CPU without VNNI, for
#     test/unit/verify/emulatedCpu.test.ts (verification must not depend on the CPU).
# Idempotent; does nothing when not root or when apt fails (those tests then skip and say why).
# Always exits 0: the unit tests decide what a missing package means.
missing=()
[ -d /usr/share/libonnx-testdata/data/node ] || missing+=(libonnx-testdata)
command -v qemu-x86_64 >/dev/null 2>&1 || missing+=(qemu-user)
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || exit 0
command -v apt-get >/dev/null 2>&1 || exit 0
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
install() { apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }
if install || { apt-get update -q >>"$log" 2>&1 && install; }; then
  echo "test data: installed ${missing[*]} from Debian"
fi
rm -f "$log"
exit 0
