{{/*
The operator's rules, in every namespace it watches: informers need list and
watch, reconcilers server-side apply (patch, create) and write status through
the subresource. Proven sufficient by the integration suite run as this
ServiceAccount (npm run test:rbac) and necessary by e2e/rbac.test.ts. To
extend: add the rule here and run `npm run generate` (config/rbac follows).
*/}}
{{- define "modelops.rules" -}}
- apiGroups: [modelops.io]
  resources: [modelversions, modeldeployments, driftmonitors]
  verbs: [get, list, watch, patch, update]
- apiGroups: [modelops.io]
  resources: [modelversions/status, modeldeployments/status, driftmonitors/status]
  verbs: [get, patch, update]
# Builtin autoscaling sets a ModelDeployment's replicas as an HPA would.
- apiGroups: [modelops.io]
  resources: [modeldeployments/scale]
  verbs: [get, patch, update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, update, delete]
# Autoscalers the operator creates for spec.autoscaling (hpa, keda).
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects]
  verbs: [get, create, patch, update, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, patch]
- apiGroups: [networking.istio.io]
  resources: [virtualservices]
  verbs: [get, patch]
# DriftMonitor: a ModelVersion's reference in a ConfigMap
# (spec.reference.configMapRef) and the retraining Jobs it creates
# (actions.retrainJob; listed to run one at a time). The admission policy
# refuses either when its author may not get that ConfigMap or create Jobs.
# Secrets: see modelops.webhookSecretRules.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, create]
{{- end }}

{{/*
The only Secrets the operator reads besides the Prometheus credentials
(prometheus.authSecret, granted by name in its own Role): the bearer token
of a DriftMonitor's webhook (spec.actions.webhook.secretRef), in the
DriftMonitor's namespace. RBAC cannot grant "the Secrets DriftMonitors name",
so this is get on Secrets wherever the operator watches; the admission
policy is what keeps it from being a confused deputy: it refuses a
DriftMonitor whose author may not get that very Secret. Never list or watch:
the operator gets one Secret by name when a webhook fires.
*/}}
{{- define "modelops.webhookSecretRules" -}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}

{{- define "modelops.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
{{- end }}
