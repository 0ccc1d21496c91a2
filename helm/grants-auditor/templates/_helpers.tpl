{{/* The chart name, also the app.kubernetes.io/name label (nameOverride changes it). */}}
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


{{/*
The scrape job name. The alert rules (files/grants-auditor.rules.yaml: up{job="grants-auditor"}) and the
dashboard select on it, so it is a constant: nameOverride and fullnameOverride never change it. The Service
carries it as app.kubernetes.io/part-of and the ServiceMonitor's jobLabel reads that label.
*/}}
{{- define "grants-auditor.job" -}}
grants-auditor
{{- end }}

{{/* The environment variable holding the /findings bearer token (findings.mode: token). */}}
{{- define "grants-auditor.findingsTokenEnv" -}}
GRANTS_AUDITOR_FINDINGS_TOKEN
{{- end }}

{{/*
The auditor's config: .Values.config with the server's /findings settings taken from .Values.findings
(disabled: off; token: on behind the bearer token of findings.tokenSecret; open: on, unprotected).
*/}}
{{- define "grants-auditor.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $server := default (dict) $config.server }}
{{- if eq .Values.findings.mode "token" }}
{{- $_ := set $server "findings" true }}
{{- $_ := set $server "findings_token_env" (include "grants-auditor.findingsTokenEnv" .) }}
{{- else if eq .Values.findings.mode "open" }}
{{- $_ := set $server "findings" true }}
{{- else }}
{{- $_ := set $server "findings" false }}
{{- end }}
{{- $_ := set $config "server" $server }}
{{- toYaml $config }}
{{- end }}
