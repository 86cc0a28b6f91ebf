{{/*
Names, labels and the pieces every hearth workload shares. Components:
"all-in-one" (mode all-in-one), "ingester", "distributor", "querier",
"scraper" (mode microservices).
*/}}

{{- define "hearth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hearth.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of a component's objects: dict "root" $ "component" "ingester". */}}
{{- define "hearth.componentName" -}}
{{- printf "%s-%s" (include "hearth.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hearth.microservices" -}}
{{- if eq .Values.mode "microservices" -}}true{{- end -}}
{{- end -}}

{{- define "hearth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "hearth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "hearth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hearth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of a component: dict "root" $ "component" "ingester". */}}
{{- define "hearth.componentLabels" -}}
{{ include "hearth.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hearth.componentSelectorLabels" -}}
{{ include "hearth.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hearth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hearth.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hearth.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "hearth.httpPort" -}}
{{- .Values.config.server.http_listen_port | default 4040 -}}
{{- end -}}

{{- define "hearth.rpcPort" -}}
{{- .Values.config.ring.listen_port | default 9095 -}}
{{- end -}}

{{- define "hearth.storagePath" -}}
{{- .Values.config.storage.path | default "/var/lib/hearth" -}}
{{- end -}}

{{/* The ingesters' headless Service: DNS membership and pod host names. */}}
{{- define "hearth.ingesterHeadless" -}}
{{- include "hearth.componentName" (dict "root" . "component" "ingester") -}}
{{- end -}}

{{/*
The SRV name distributors, queriers and the scraper resolve to find the
ingesters: the headless Service's port named "rpc". Each SRV target is
<pod>.<service>.<namespace>.svc.<domain>, and hearth takes its first label,
the pod name, as the member id; the ingester's -ring.instance-id is its pod
name too.
*/}}
{{- define "hearth.ringDns" -}}
{{- printf "dnssrv+_rpc._tcp.%s.%s.svc.%s" (include "hearth.ingesterHeadless" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/*
hearth.yaml: .Values.config plus what the chart sets (the overrides file and
its reload period); with "scrape" true also scrape_configs.
dict "root" $ "scrape" true|false.
*/}}
{{- define "hearth.configYaml" -}}
{{- $cfg := deepCopy .root.Values.config -}}
{{- $rc := dict "file" "/etc/hearth/overrides/overrides.yaml" "period" .root.Values.runtimeConfig.reloadPeriod -}}
{{- $_ := set $cfg "runtime_config" $rc -}}
{{- if .scrape -}}
{{- $_ := set $cfg "scrape_configs" .root.Values.scrapeConfigs -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
The pod template of a hearth component. dict:
  root       $
  component  all-in-one | ingester | distributor | querier | scraper
  target     the -target value
  values     the component's values (.Values.ingester, ...)
  configKey  the ConfigMap key given as -config.file
  data       "pvc" (the StatefulSet's volumeClaimTemplate "data"), "emptyDir" or "" (none)
*/}}
{{- define "hearth.podTemplate" -}}
{{- $root := .root -}}
{{- $v := .values -}}
metadata:
  labels:
    {{- include "hearth.componentSelectorLabels" (dict "root" $root "component" .component) | nindent 4 }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Restart on a change of hearth.yaml; the overrides are reloaded live.
    checksum/config: {{ include "hearth.configYaml" (dict "root" $root "scrape" (eq .configKey "hearth-scraper.yaml")) | sha256sum }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "hearth.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  containers:
    - name: hearth
      image: {{ include "hearth.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        - -config.file=/etc/hearth/config/{{ .configKey }}
        - -target={{ .target }}
        {{- if eq .component "ingester" }}
        - -ring.instance-id=$(POD_NAME)
        - -ring.instance-addr=$(POD_NAME).{{ include "hearth.ingesterHeadless" $root }}.{{ $root.Release.Namespace }}.svc.{{ $root.Values.clusterDomain }}:{{ include "hearth.rpcPort" $root }}
        {{- else if ne .component "all-in-one" }}
        - -ring.dns={{ include "hearth.ringDns" $root }}
        {{- end }}
        {{- range $root.Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
        {{- range $v.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- with $root.Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ include "hearth.httpPort" $root }}
          protocol: TCP
        {{- if eq .component "ingester" }}
        - name: rpc
          containerPort: {{ include "hearth.rpcPort" $root }}
          protocol: TCP
        {{- end }}
      readinessProbe:
        httpGet:
          path: /ready
          port: http
        periodSeconds: {{ $root.Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ $root.Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ $root.Values.probes.readiness.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /metrics
          port: http
        initialDelaySeconds: {{ $root.Values.probes.liveness.initialDelaySeconds }}
        periodSeconds: {{ $root.Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ $root.Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ $root.Values.probes.liveness.failureThreshold }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      volumeMounts:
        # Directory mounts, not subPath: the kubelet refreshes them in place
        # when a ConfigMap changes (hearth re-reads the overrides). Side by
        # side, not nested: a mount point cannot be made inside a read-only
        # ConfigMap volume.
        - name: config
          mountPath: /etc/hearth/config
          readOnly: true
        - name: overrides
          mountPath: /etc/hearth/overrides
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if .data }}
        - name: data
          mountPath: {{ include "hearth.storagePath" $root }}
        {{- end }}
        {{- with $root.Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "hearth.fullname" $root }}-config
    - name: overrides
      configMap:
        name: {{ include "hearth.fullname" $root }}-overrides
    - name: tmp
      emptyDir: {}
    {{- if eq .data "emptyDir" }}
    - name: data
      emptyDir: {}
    {{- end }}
    {{- with $root.Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* A StatefulSet volumeClaimTemplate named "data": the persistence values. */}}
{{- define "hearth.volumeClaimTemplate" -}}
- metadata:
    name: data
  spec:
    accessModes:
      {{- toYaml .accessModes | nindent 6 }}
    {{- if .storageClassName }}
    storageClassName: {{ .storageClassName | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end -}}
