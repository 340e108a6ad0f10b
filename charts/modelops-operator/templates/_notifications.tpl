{{/*
Notifications (values `notifications`): the file the operator reads with
--notifications-config, whether there is anything to send, and the Secrets
it names (the operator gets them by name in the release namespace).
*/}}
{{- define "modelops.notifications.enabled" -}}
{{- if or .Values.notifications.webhooks .Values.notifications.slack.webhookUrlSecret.name }}true{{ end -}}
{{- end }}

{{- define "modelops.notifications.config" -}}
{{- $n := .Values.notifications -}}
{{- $config := dict "webhooks" ($n.webhooks | default list) -}}
{{- with $n.slack.webhookUrlSecret.name }}
{{- $slack := dict "name" ($n.slack.name | default "slack") "webhookUrlSecret" (dict "name" . "key" ($n.slack.webhookUrlSecret.key | default "url")) -}}
{{- with $n.slack.events }}{{ $_ := set $slack "events" . }}{{ end -}}
{{- $_ := set $config "slack" $slack -}}
{{- end }}
{{- toJson $config -}}
{{- end }}

{{- define "modelops.notifications.secrets" -}}
{{- $names := list -}}
{{- range .Values.notifications.webhooks }}
{{- with .urlSecret }}{{ $names = append $names .name }}{{ end }}
{{- with .headersSecret }}{{ $names = append $names . }}{{ end }}
{{- end }}
{{- with .Values.notifications.slack.webhookUrlSecret.name }}{{ $names = append $names . }}{{ end }}
{{- $names | uniq | sortAlpha | toJson -}}
{{- end }}
