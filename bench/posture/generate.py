#!/usr/bin/env python3
"""Writes N Kubernetes objects (a realistic mix) as one multi-document YAML stream.

Usage: generate.py N OUT.yaml

Per namespace of 10 objects: a Deployment (mixed hardening), a StatefulSet, a CronJob, a
Service, a ServiceAccount, a ConfigMap, a Role, a RoleBinding, a NetworkPolicy and a Pod.
"""
import sys

def doc(i):
    ns = f"team-{i // 10}"
    k = i % 10
    risky = (i // 10) % 3 == 0
    sc = "{privileged: true}" if risky else "{runAsNonRoot: true, runAsUser: 10001, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}"
    image = "registry.example/app:latest" if risky else "registry.example/app@sha256:" + "0" * 64
    container = f"""      - name: app
        image: {image}
        securityContext: {sc}
        resources: {{requests: {{cpu: 100m, memory: 64Mi}}, limits: {{cpu: 200m, memory: 128Mi}}}}
        env: [{{name: DB_PASSWORD, valueFrom: {{secretKeyRef: {{name: db, key: pw}}}}}}]
        ports: [{{containerPort: 8080}}]"""
    if k == 0:
        return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web-{i}, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web-{i}}}}}
  template:
    metadata: {{labels: {{app: web-{i}}}}}
    spec:
      serviceAccountName: sa-{i - k + 4}
      hostNetwork: {"true" if risky else "false"}
      volumes: [{{name: host, hostPath: {{path: {"/var/run/docker.sock" if risky else "/opt/data"}}}}}]
      containers:
{container}
        volumeMounts: [{{name: host, mountPath: /host}}]"""
    if k == 1:
        return f"""apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db-{i}, namespace: {ns}}}
spec:
  serviceName: db
  selector: {{matchLabels: {{app: db-{i}}}}}
  template:
    metadata: {{labels: {{app: db-{i}}}}}
    spec:
      containers:
{container}"""
    if k == 2:
        return f"""apiVersion: batch/v1
kind: CronJob
metadata: {{name: job-{i}, namespace: {ns}}}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {{name: job, image: "registry.example/job:1.0", command: [sh, -c, "true"]}}"""
    if k == 3:
        return f"""apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: {ns}}}
spec: {{type: {"LoadBalancer" if risky else "ClusterIP"}, selector: {{app: web-{i - 3}}}, ports: [{{port: 443, targetPort: 8080}}]}}"""
    if k == 4:
        return f"""apiVersion: v1
kind: ServiceAccount
metadata: {{name: sa-{i}, namespace: {ns}}}
automountServiceAccountToken: {"true" if risky else "false"}"""
    if k == 5:
        return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: cm-{i}, namespace: {ns}}}
data: {{LOG_LEVEL: info, AWS_ACCESS_KEY_ID: {"AKIAIOSFODNN7EXAMPLE" if risky else "none"}}}"""
    if k == 6:
        return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: role-{i}, namespace: {ns}}}
rules:
- {{apiGroups: [""], resources: [pods, {"secrets" if risky else "services"}], verbs: [get, list{", create" if risky else ""}]}}
- {{apiGroups: [apps], resources: [deployments], verbs: [{'"*"' if risky else "get"}]}}"""
    if k == 7:
        return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: rb-{i}, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: role-{i - 1}}}
subjects: [{{kind: ServiceAccount, name: sa-{i - 3}, namespace: {ns}}}]"""
    if k == 8:
        return f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: np-{i}, namespace: {ns}}}
spec: {{podSelector: {{}}, policyTypes: [Ingress{", Egress" if not risky else ""}]}}"""
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: pod-{i}, namespace: {ns}, labels: {{app: pod-{i}}}}}
spec:
  hostPID: {"true" if risky else "false"}
  containers:
{container.replace("      ", "  ", 1).replace(chr(10) + "        ", chr(10) + "    ")}"""

n = int(sys.argv[1])
with open(sys.argv[2], "w") as f:
    f.write("\n---\n".join(doc(i) for i in range(n)))
    f.write("\n")
