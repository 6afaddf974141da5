#!/usr/bin/env bash
# Generates the Python stubs of the Gatehouse API from proto/ with grpcio-tools:
#
#   examples/python/generate.sh [OUT_DIR]      # default: examples/python/generated (gitignored)
#
# Run it with the Python that has requirements.txt installed (an activated venv, or PYTHON=...).
# The stubs land as OUT_DIR/gatehouse/v1/{admin,common,self_service}_pb2{,_grpc}.py (+ .pyi);
# example.py puts examples/python/generated on its import path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto="$here/../../proto"
out="${1:-$here/generated}"
python="${PYTHON:-python3}"

# Only our own package is replaced, so OUT_DIR may hold other things.
rm -rf "$out/gatehouse"
mkdir -p "$out"
# grpc_tools.protoc, run as a module, adds its bundled google/protobuf/*.proto to the include
# path itself, so timestamp.proto resolves without a protoc installation.
"$python" -m grpc_tools.protoc -I "$proto" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  "$proto"/gatehouse/v1/*.proto
echo "generated the gatehouse.v1 stubs in $out"
