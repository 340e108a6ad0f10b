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
# DriftMonitor: a reference in a ConfigMap (spec.reference.configMapRef), the
# webhook's bearer token in a Secret (actions.webhook.secretRef), and the
# retraining Jobs it creates (actions.retrainJob; listed to run one at a time).
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, create]
{{- end }}

{{- define "modelops.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
