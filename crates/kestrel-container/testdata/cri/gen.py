"""Encodes the CRI ContainerStatusResponse in this directory with Google's protobuf library.

The message definitions are those of k8s.io/cri-api pkg/apis/runtime/v1/api.proto (field
numbers and types as published, only the fields Kestrel reads plus a few it must skip); the
values are in the shape containerd 1.7 returns for `crictl inspect`. Run with
`pip install protobuf` (7.x):  python3 gen.py
"""
import json
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
fd = descriptor_pb2.FileDescriptorProto(name="api.proto", package="runtime.v1", syntax="proto3")

def msg(name, fields, maps=()):
    m = fd.message_type.add(name=name)
    for (fname, num, typ, type_name, label) in fields:
        f = m.field.add(name=fname, number=num, type=typ, label=label or F.LABEL_OPTIONAL)
        if type_name:
            f.type_name = type_name
    for (fname, num) in maps:
        entry = m.nested_type.add(name=fname.title().replace("_", "") + "Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
        entry.field.add(name="value", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
        m.field.add(name=fname, number=num, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                    type_name=f".runtime.v1.{name}.{entry.name}")
    return m

msg("ContainerMetadata", [("name", 1, F.TYPE_STRING, None, None), ("attempt", 2, F.TYPE_UINT32, None, None)])
msg("ImageSpec", [("image", 1, F.TYPE_STRING, None, None), ("user_specified_image", 18, F.TYPE_STRING, None, None)],
    maps=[("annotations", 2)])
msg("ContainerStatus", [
    ("id", 1, F.TYPE_STRING, None, None),
    ("metadata", 2, F.TYPE_MESSAGE, ".runtime.v1.ContainerMetadata", None),
    ("state", 3, F.TYPE_INT32, None, None),
    ("created_at", 4, F.TYPE_INT64, None, None),
    ("started_at", 5, F.TYPE_INT64, None, None),
    ("exit_code", 7, F.TYPE_INT32, None, None),
    ("image", 8, F.TYPE_MESSAGE, ".runtime.v1.ImageSpec", None),
    ("image_ref", 9, F.TYPE_STRING, None, None),
    ("log_path", 15, F.TYPE_STRING, None, None),
    ("image_id", 17, F.TYPE_STRING, None, None),
], maps=[("labels", 12), ("annotations", 13)])
msg("ContainerStatusResponse", [("status", 1, F.TYPE_MESSAGE, ".runtime.v1.ContainerStatus", None)],
    maps=[("info", 2)])

pool = descriptor_pool.DescriptorPool()
pool.Add(fd)
Response = message_factory.GetMessageClass(pool.FindMessageTypeByName("runtime.v1.ContainerStatusResponse"))

ID = "4b1f0e6c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
POD_UID = "22a84f4b-6dc1-484a-9ff7-0ff36e94eb85"
r = Response()
s = r.status
s.id = ID
s.metadata.name = "web"
s.state = 1  # CONTAINER_RUNNING
s.created_at = 1764178416000000000
s.started_at = 1764178416500000000
s.image.image = "registry.shop.example/web:1.4.2"
s.image.user_specified_image = "registry.shop.example/web:1.4.2"
s.image_ref = "registry.shop.example/web@sha256:" + "5" * 64
s.image_id = "sha256:" + "7" * 64
s.log_path = f"/var/log/pods/shop-prod_web-7d9f8c6b5-x2kqp_{POD_UID}/web/0.log"
s.labels.update({
    "io.kubernetes.container.name": "web",
    "io.kubernetes.pod.name": "web-7d9f8c6b5-x2kqp",
    "io.kubernetes.pod.namespace": "shop-prod",
    "io.kubernetes.pod.uid": POD_UID,
})
s.annotations.update({
    "io.kubernetes.container.hash": "6e3c5f1a",
    "io.kubernetes.container.restartCount": "0",
})
r.info["info"] = json.dumps({
    "sandboxID": "9" * 64,
    "pid": 4242,
    "removing": False,
    "snapshotKey": ID,
    "snapshotter": "overlayfs",
    "runtimeType": "io.containerd.runc.v2",
    "config": {
        "metadata": {"name": "web"},
        "image": {"image": "sha256:" + "7" * 64},
        "labels": dict(s.labels),
        "linux": {"security_context": {"privileged": True, "namespace_options": {"pid": 1}}},
    },
})
open("container-status-containerd.pb", "wb").write(r.SerializeToString())
