{{/* The chart name, also the app.kubernetes.io/name label and thus the scrape job name. */}}
{{- define "grants-auditor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A fully qualified app name, unique per release. */}}
{{- define "grants-auditor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "grants-auditor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "grants-auditor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "grants-auditor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "grants-auditor.labels" -}}
helm.sh/chart: {{ include "grants-auditor.chart" . }}
{{ include "grants-auditor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "grants-auditor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "grants-auditor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding credential environment variables: the user's, or the chart's. */}}
{{- define "grants-auditor.secretName" -}}
{{- default (include "grants-auditor.fullname" .) .Values.existingSecret }}
{{- end }}
