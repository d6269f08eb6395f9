{{- define "sre-judge.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "sre-judge.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sre-judge.labels" -}}
{{ include "sre-judge.selectorLabels" . }}
app.kubernetes.io/version: {{ include "sre-judge.tag" . | quote }}
app.kubernetes.io/component: canary-judge
app.kubernetes.io/part-of: sre-platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "sre-judge.tag" -}}
{{- $tag := required "image.tag is required: the sre-judge image built from judge/Dockerfile" .Values.image.tag | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag must not be latest: pin a version" }}
{{- end }}
{{- $tag }}
{{- end }}

{{- define "sre-judge.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "sre-judge.tag" .) }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}
