{{- define "modelops.name" -}}modelops-operator{{- end }}

{{- define "modelops.fullname" -}}
{{- if contains "modelops-operator" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-modelops-operator" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end }}

{{- define "modelops.serviceAccountName" -}}
{{- default "modelops-operator" .Values.serviceAccount.name -}}
{{- end }}

{{- define "modelops.watchNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end }}

{{- define "modelops.selectorLabels" -}}
app.kubernetes.io/name: modelops-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "modelops.labels" -}}
{{ include "modelops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "modelops.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}
