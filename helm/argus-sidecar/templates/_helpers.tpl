{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "argus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource name prefix. */}}
{{- define "argus.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "argus.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "argus.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "argus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "argus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include "argus.selector" (list . "worker"). */}}
{{- define "argus.selector" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ include "argus.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* image reference: repository@digest, or repository:tag (default appVersion). */}}
{{- define "argus.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Native sidecar decision: "auto" follows the cluster version (native sidecars: 1.29+). */}}
{{- define "argus.nativeSidecar" -}}
{{- if eq (toString .Values.sidecar.nativeSidecar) "auto" -}}
{{- semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version -}}
{{- else -}}
{{- .Values.sidecar.nativeSidecar -}}
{{- end -}}
{{- end -}}

{{/* env entries from secrets.<which>: include "argus.secretEnv" .Values.secrets.worker */}}
{{- define "argus.secretEnv" -}}
{{- $secret := . -}}
{{- range $name, $key := $secret.env }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{/* The worker's argus.yaml with the admin port from values. */}}
{{- define "argus.workerConfig" -}}
{{- $cfg := deepCopy .Values.worker.config -}}
{{- $metering := get $cfg "metering" | default dict -}}
{{- $worker := get $metering "worker" | default dict -}}
{{- $_ := set $worker "admin" (dict "host" "0.0.0.0" "port" .Values.worker.adminPort) -}}
{{- $_ := set $metering "worker" $worker -}}
{{- $_ := set $cfg "metering" $metering -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The control process's argus.yaml with its listeners from values. */}}
{{- define "argus.controlConfig" -}}
{{- $cfg := deepCopy .Values.control.config -}}
{{- $control := get $cfg "control" | default dict -}}
{{- $_ := set $control "internal" (dict "host" "0.0.0.0" "port" .Values.control.internalPort) -}}
{{- $_ := set $control "public" (dict "host" "0.0.0.0" "port" .Values.control.publicPort) -}}
{{- $_ := set $control "admin" (dict "host" "0.0.0.0" "port" .Values.control.adminPort) -}}
{{- $_ := set $cfg "control" $control -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* A sidecar argus.yaml with listen/admin ports from values: include "argus.sidecarConfig" (list . $config) */}}
{{- define "argus.sidecarConfig" -}}
{{- $ctx := index . 0 -}}
{{- $cfg := deepCopy (index . 1) -}}
{{- $_ := set $cfg "listen" (dict "host" "0.0.0.0" "port" $ctx.Values.sidecar.listenPort) -}}
{{- $_ := set $cfg "admin" (dict "host" "0.0.0.0" "port" $ctx.Values.sidecar.adminPort) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Name of the webhook's TLS Secret. */}}
{{- define "argus.webhookTlsSecret" -}}
{{- if .Values.injector.tls.certManager.enabled -}}
{{- printf "%s-webhook-tls" (include "argus.fullname" .) -}}
{{- else -}}
{{- required "injector.tls.existingSecret is required when injector.tls.certManager.enabled is false" .Values.injector.tls.existingSecret -}}
{{- end -}}
{{- end -}}
