
¿
@4b1f0e6c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c
web €ÀÝðÁÝç½(€Š“ßÃÝç½BC
registry.shop.example/web:1.4.2’registry.shop.example/web:1.4.2Jaregistry.shop.example/web@sha256:5555555555555555555555555555555555555555555555555555555555555555b=
io.kubernetes.pod.uid$22a84f4b-6dc1-484a-9ff7-0ff36e94eb85b-
io.kubernetes.pod.nameweb-7d9f8c6b5-x2kqpb#
io.kubernetes.container.namewebb(
io.kubernetes.pod.namespace	shop-prodj)
$io.kubernetes.container.restartCount0j(
io.kubernetes.container.hash6e3c5f1azZ/var/log/pods/shop-prod_web-7d9f8c6b5-x2kqp_22a84f4b-6dc1-484a-9ff7-0ff36e94eb85/web/0.logŠGsha256:7777777777777777777777777777777777777777777777777777777777777777À
info·{"sandboxID": "9999999999999999999999999999999999999999999999999999999999999999", "pid": 4242, "removing": false, "snapshotKey": "4b1f0e6c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c", "snapshotter": "overlayfs", "runtimeType": "io.containerd.runc.v2", "config": {"metadata": {"name": "web"}, "image": {"image": "sha256:7777777777777777777777777777777777777777777777777777777777777777"}, "labels": {"io.kubernetes.pod.namespace": "shop-prod", "io.kubernetes.container.name": "web", "io.kubernetes.pod.name": "web-7d9f8c6b5-x2kqp", "io.kubernetes.pod.uid": "22a84f4b-6dc1-484a-9ff7-0ff36e94eb85"}, "linux": {"security_context": {"privileged": true, "namespace_options": {"pid": 1}}}}}