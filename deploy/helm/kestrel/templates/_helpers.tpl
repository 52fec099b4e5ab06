{{- define "kestrel.labels" -}}
app.kubernetes.io/part-of: kestrel
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
{{- define "kestrel.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}
{{- define "kestrel.scheme" -}}
{{ if .Values.server.tlsSecret }}https{{ else }}http{{ end }}
{{- end }}
