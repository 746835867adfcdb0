{{/*
Names and labels shared by every template.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name that prefixes every object: the release name when it already contains the chart
name (release "switchboard" gives "switchboard", not "switchboard-switchboard"). Truncated to 54
so "<fullname>-operator" and "<fullname>-operator-metrics" stay within 63 characters.
*/}}
{{- define "switchboard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 46 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the operator's Deployment, ServiceAccount, PDB, ClusterRole and its bindings. */}}
{{- define "switchboard.operatorName" -}}
{{- printf "%s-operator" (include "switchboard.fullname" .) }}
{{- end }}

{{/* chart label value: name-version. */}}
{{- define "switchboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "switchboard.labels" -}}
helm.sh/chart: {{ include "switchboard.chart" . }}
{{ include "switchboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: switchboard
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator's pods; never change them (Deployment selectors are immutable). */}}
{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchboard.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "switchboard.image" -}}
{{- $image := index . 0 }}
{{- $root := index . 1 }}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}

{{/*
The tenants' NetworkPolicy peers as the operator reads them (OPERATOR_NETWORK, JSON): the
values as they are, with otelCollector left out when empty (the operator then allows any pod in
the cluster to be the collector).
*/}}
{{- define "switchboard.tenantNetwork" -}}
{{- $network := deepCopy .Values.tenantStack.network }}
{{- if not $network.otelCollector }}
{{- $_ := unset $network "otelCollector" }}
{{- end }}
{{- toJson $network }}
{{- end }}

{{/*
NetworkPolicy peers from a list of {namespace, podLabels} or {cidr, except} (the shape of
tenantStack.network's peers).
*/}}
{{- define "switchboard.networkPeers" -}}
{{- range $i, $peer := . }}
{{- if $i }}{{ "\n" }}{{ end }}
{{- with $peer }}
{{- if .cidr -}}
- ipBlock:
    cidr: {{ .cidr | quote }}
    {{- with .except }}
    except:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- else -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .namespace | quote }}
  {{- with .podLabels }}
  podSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
