{{/* The name of every object of the release. */}}
{{- define "bosun.name" -}}
{{- default "bosun-operator" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object of the release. */}}
{{- define "bosun.labels" -}}
app.kubernetes.io/name: bosun
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels that select the operator's pods. */}}
{{- define "bosun.selectorLabels" -}}
app.kubernetes.io/name: bosun
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The generated RBAC (files/role.yaml, from internal/operator/rbac.go): the object of a kind. */}}
{{- define "bosun.generatedRole" -}}
{{- $kind := .kind -}}
{{- range $doc := splitList "\n---\n" (.root.Files.Get "files/role.yaml") -}}
{{- $obj := fromYaml $doc -}}
{{- if and $obj (eq (get $obj "kind") $kind) -}}
{{- toYaml (get $obj "rules") -}}
{{- end -}}
{{- end -}}
{{- end -}}
