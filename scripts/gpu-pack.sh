#!/usr/bin/env bash
# Packs radose's GPU build for a node that has only the NVIDIA driver (no
# Rust toolchain, no network, a Python with PyTorch):
#
#   scripts/gpu-pack.sh            # on the build machine (Debian/Ubuntu, amd64)
#   (carry gpu-bundle/ and gpu-loader/ to the node, then there)
#   bash gpu-bundle/gpu-check.sh   # writes gpu-check-out/, ends in VERDICT: …
#
# gpu-bundle/ (git-ignored): radose.xz (release, `--features vulkan`,
#   stripped, xz -9e: 36.6 MB where gzip -9 gave 60.9 MB), gpu-check.sh, dose_cnn_step.py (the PyTorch anchor,
#   when found), SHA256SUMS.
# gpu-loader/ (git-ignored): the amd64 Vulkan loader and the GL dispatch
#   libraries NVIDIA's Vulkan driver needs, as Debian packages downloaded with
#   apt-get (`libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0
#   libgles2`): compute images often lack libvulkan.so.1.
#
# Environment: GPU_FEATURE (default vulkan; `wgpu` for the WGSL path),
# TORCH_REFERENCE (path of dose_cnn_step.py; default
# ../shared/reference/torch/dose_cnn_step.py beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURE=${GPU_FEATURE:-vulkan}
BUNDLE=gpu-bundle
LOADER=gpu-loader
TORCH_REFERENCE=${TORCH_REFERENCE:-../shared/reference/torch/dose_cnn_step.py}
PACKAGES="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"

rm -rf "$BUNDLE" "$LOADER"
mkdir -p "$BUNDLE" "$LOADER"

echo "== cargo build --release --features $FEATURE"
start=$(date +%s)
cargo build --release --locked --features "$FEATURE"
echo "built in $(( $(date +%s) - start )) s"
cp target/release/radose "$BUNDLE/radose"
strip "$BUNDLE/radose"
stripped=$(stat -c %s "$BUNDLE/radose")
rm -f "$BUNDLE/radose.gz" "$BUNDLE/radose.xz"
# xz -9e: about 2½ minutes here, 2 s to unpack; a third smaller than gzip -9.
xz -9e -T0 -f "$BUNDLE/radose"
cp scripts/gpu-check.sh "$BUNDLE/"
if [ -f "$TORCH_REFERENCE" ]; then
  cp "$TORCH_REFERENCE" "$BUNDLE/dose_cnn_step.py"
else
  echo "note: $TORCH_REFERENCE not found; the check will skip the PyTorch comparison unless dose_cnn_step.py is put beside it"
fi

echo "== Vulkan loader packages (amd64) from Debian"
(cd "$LOADER" && apt-get download $(for p in $PACKAGES; do echo "$p:amd64"; done))
ls "$LOADER"/*.deb >/dev/null

(cd "$BUNDLE" && sha256sum -- * > SHA256SUMS)
(cd "$LOADER" && sha256sum -- *.deb > SHA256SUMS)

total=$(cat "$BUNDLE"/* "$LOADER"/* | wc -c)
echo "== sizes"
echo "radose stripped: $stripped bytes; xz: $(stat -c %s "$BUNDLE/radose.xz") bytes"
echo "loader packages: $(cat "$LOADER"/*.deb | wc -c) bytes ($(ls "$LOADER"/*.deb | wc -l) packages)"
echo "everything carried: $total bytes ($(( total / 1048576 )) MiB)"
if [ "$total" -ge $(( 64 * 1048576 )) ]; then
  echo "too large to carry: $total bytes is over 64 MiB" >&2
  exit 1
fi
