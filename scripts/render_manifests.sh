#!/usr/bin/env bash
# Render a Kubernetes overlay to stdout: scripts/render_manifests.sh dev|prod
#   scripts/render_manifests.sh prod | kubectl apply --server-side -f -
# kustomize: $KUSTOMIZE, else .cache/bin/kustomize (installed by the Makefile), else PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

overlay=${1:-}
if [[ -z "$overlay" || ! -d "deploy/k8s/overlays/$overlay" ]]; then
    echo "usage: $0 <overlay>   (one of: $(ls deploy/k8s/overlays | tr '\n' ' '))" >&2
    exit 2
fi

kustomize=${KUSTOMIZE:-}
if [[ -z "$kustomize" ]]; then
    if [[ -x .cache/bin/kustomize ]]; then
        kustomize=.cache/bin/kustomize
    elif command -v kustomize > /dev/null; then
        kustomize=kustomize
    else
        echo "kustomize not found: set KUSTOMIZE or install it into .cache/bin (see docs/operations.md)" >&2
        exit 1
    fi
fi
exec "$kustomize" build "deploy/k8s/overlays/$overlay"
