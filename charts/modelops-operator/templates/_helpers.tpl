{{- define "modelops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/*
The objects' name: fullnameOverride, else the release name when it already
holds the chart's name, else "<release>-<name>".
*/}}
{{- define "modelops.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "modelops.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "modelops.serviceAccountName" -}}
{{- default "modelops-operator" .Values.serviceAccount.name -}}
{{- end }}

{{- define "modelops.watchNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end }}

{{- define "modelops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
A shard's objects: "<fullname>-<shard>"; the main instance (shard "") keeps
the plain name. Called with (dict "root" $ "shard" NAME).
*/}}
{{- define "modelops.shardFullname" -}}
{{- if .shard -}}
{{- printf "%s-%s" (include "modelops.fullname" .root) .shard | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "modelops.fullname" .root -}}
{{- end -}}
{{- end }}

{{/*
Pod labels a Deployment selects. A shard's pods must not match the main
Deployment's (immutable) selector, so their name is "<name>-shard"; the
metrics Service of each shard selects them by these.
*/}}
{{- define "modelops.shardSelectorLabels" -}}
{{- if .shard -}}
app.kubernetes.io/name: {{ printf "%s-shard" (include "modelops.name" .root) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
modelops.io/shard: {{ .shard }}
{{- else -}}
{{ include "modelops.selectorLabels" .root }}
{{- end -}}
{{- end }}

{{- define "modelops.labels" -}}
{{ include "modelops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/*
REGISTRY/REPOSITORY:TAG (or @DIGEST): the registry from image.registry, else
global.imageRegistry, else none; the tag defaults to the chart's appVersion.
*/}}
{{- define "modelops.image" -}}
{{- $registry := .Values.image.registry | default ((.Values.global).imageRegistry) | default "" -}}
{{- $repository := .Values.image.repository -}}
{{- if $registry }}{{ $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository }}{{ end -}}
{{- if .Values.image.digest -}}
{{ $repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ $repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end }}

{{/* The proxy sidecar's image: proxy.image, else modelops-proxy beside the operator's image (same registry, tag or digest's tag). */}}
{{- define "modelops.proxyImage" -}}
{{- if .Values.proxy.image -}}
{{ .Values.proxy.image }}
{{- else -}}
{{- $registry := .Values.image.registry | default ((.Values.global).imageRegistry) | default "" -}}
{{- $repository := "modelops-proxy" -}}
{{- if $registry }}{{ $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository }}{{ end -}}
{{ $repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end }}

{{/* image.pullSecrets plus global.imagePullSecrets, as a pod's imagePullSecrets. */}}
{{- define "modelops.imagePullSecrets" -}}
{{- $secrets := concat (.Values.imagePullSecrets | default list) ((.Values.global).imagePullSecrets | default list) -}}
{{- range $secrets }}
- name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
{{- end }}
{{- end }}

{{/*
The minimum Kubernetes version (ValidatingAdmissionPolicy v1 is GA in 1.30).
Not Chart.yaml's kubeVersion: `helm template` without --kube-version checks
against a built-in default (v1.20.0 in source builds of helm), which would
refuse every plain render. Refused here instead, when the version is one the
user gave (--kube-version) or the cluster reported (helm install/upgrade,
template --validate: the discovered API set names kinds, the default does not).
*/}}
{{- define "modelops.checkKubeVersion" -}}
{{- $kv := .Capabilities.KubeVersion.Version -}}
{{- $fromCluster := .Capabilities.APIVersions.Has "apps/v1/Deployment" -}}
{{- if and (semverCompare "<1.30.0-0" $kv) (or $fromCluster (ne $kv "v1.20.0")) -}}
{{- fail (printf "modelops-operator requires Kubernetes >= 1.30 (ValidatingAdmissionPolicy v1); this cluster is %s" $kv) -}}
{{- end -}}
{{- end }}
