#!/usr/bin/env python3
"""Writes N Kubernetes objects shaped for attack-path analysis as one JSON `List`.

Usage: generate.py N OUT.json

Per namespace of 10 objects: a Deployment, a Service (LoadBalancer in every 5th namespace),
two ServiceAccounts (app, deployer), a Role (create pods in every 4th namespace, else read
configmaps), its RoleBinding to the app account, a Pod pinned to one of 20 nodes (privileged in
every 7th namespace), a token Secret of the deployer, a ClusterRoleBinding (cluster-admin for
the deployer in every 10th namespace, view otherwise) and a Node (node-<ns % 20>, once each).
"""
import json
import sys


def ns_objects(n):
    ns = f"team-{n}"
    lb = n % 5 == 0
    creates = n % 4 == 0
    privileged = n % 7 == 0
    admin = n % 10 == 0
    node = f"node-{n % 20}"
    labels = {"app": f"web-{n}"}
    spec = {"serviceAccountName": "app", "containers": [{"name": "web", "image": "registry.example/web:1"}]}
    yield {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
           "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": spec}}}
    yield {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
           "spec": {"type": "LoadBalancer" if lb else "ClusterIP", "selector": labels, "ports": [{"port": 443}]}}
    yield {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": ns}}
    yield {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": ns}}
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]} if creates else \
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    yield {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "app", "namespace": ns}, "rules": [rule]}
    yield {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "app", "namespace": ns},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "app"},
           "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]}
    sc = {"privileged": True} if privileged else {"allowPrivilegeEscalation": False}
    yield {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "worker", "namespace": ns},
           "spec": {"nodeName": node, "serviceAccountName": "deployer",
                    "containers": [{"name": "w", "image": "registry.example/worker:1", "securityContext": sc}]}}
    yield {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
           "metadata": {"name": "deployer-token", "namespace": ns,
                        "annotations": {"kubernetes.io/service-account.name": "deployer"}}}
    yield {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": f"deployer-{n}"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin" if admin else "view"},
           "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}]}
    if n < 20:
        yield {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}
    else:
        yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns}, "data": {"a": "b"}}


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    items = []
    ns = 0
    while len(items) < n:
        items.extend(ns_objects(ns))
        ns += 1
    with open(out, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items[:n]}, f)


main()
