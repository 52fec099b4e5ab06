//! Container identity and runtime metadata against a real podman: cgroup paths of real
//! container processes, the libpod API and podman's Docker-compatible API.

mod support;

use kestrel_container::{PodQos, RuntimeClient, container_of_pid, containers_in_proc};
use kestrel_event::{ContainerId, ContainerRuntime};
use support::{IMAGE, Podman};

const POD_UID: &str = "5b0c9f0e-7a41-4c36-9d0e-2f1b7c9a4e11";

#[tokio::test(flavor = "multi_thread")]
async fn real_podman_containers() {
    let mut podman = Podman::start();
    let pod = podman.pod("pod", POD_UID, &["tier=test"]);
    let id = podman.container(
        "web",
        true,
        &["--pod", &pod, "--label", "app=web", "--privileged"],
    );
    let plain = podman.container("plain", false, &[]);
    let id = ContainerId::parse(&id).unwrap();
    let plain = ContainerId::parse(&plain).unwrap();

    // The container's process, found by its cgroup as the sensor sees it.
    let pid = podman.pid_of(id.as_str());
    let identity = container_of_pid(pid).unwrap().expect("a container process");
    assert_eq!(identity.container_id, id);
    assert_eq!(identity.runtime, Some(ContainerRuntime::Podman));
    assert_eq!(identity.pod_uid.as_deref(), Some(POD_UID));
    assert_eq!(identity.qos, Some(PodQos::BestEffort));
    // conmon, which podman runs beside the container, is not in it.
    let conmon: u32 = podman
        .podman(&["inspect", "-f", "{{.State.ConmonPid}}", id.as_str()])
        .parse()
        .unwrap();
    assert_eq!(container_of_pid(conmon).unwrap(), None);
    // A scan of /proc finds the container with its process.
    let running = containers_in_proc(std::path::Path::new("/proc")).unwrap();
    let ours = running
        .iter()
        .find(|r| r.identity.container_id == id)
        .expect("the container in /proc");
    assert_eq!(ours.pids, vec![pid]);
    assert!(
        !running.iter().any(|r| r.identity.container_id == plain),
        "created, not started"
    );

    let image_id = format!(
        "sha256:{}",
        podman.podman(&["image", "inspect", "-f", "{{.Id}}", IMAGE])
    );
    let pod_id = podman.podman(&["pod", "inspect", "-f", "{{.Id}}", &pod]);

    let libpod = RuntimeClient::podman(&podman.socket);
    let info = libpod.inspect(&id).await.unwrap().expect("known to libpod");
    assert_eq!(info.id, id);
    assert_eq!(info.runtime, Some(ContainerRuntime::Podman));
    assert_eq!(info.name.as_deref(), Some(podman.name("web").as_str()));
    let image = info.image.as_ref().unwrap();
    assert_eq!(image.repository, "localhost/kestrel-container-test");
    assert_eq!(image.tag.as_deref(), Some("1.0"));
    assert_eq!(image.id.as_deref(), Some(image_id.as_str()));
    assert!(
        image.digest.as_deref().unwrap().starts_with("sha256:"),
        "{image:?}"
    );
    assert_eq!(info.labels.get("app").map(String::as_str), Some("web"));
    // Image labels are inherited by the container.
    assert_eq!(
        info.labels.get("org.kestrel.test").map(String::as_str),
        Some("container")
    );
    assert_eq!(info.privileged, Some(true));
    let pod_info = info.pod.as_ref().expect("the podman pod");
    assert_eq!(pod_info.name, pod);
    assert_eq!(pod_info.uid, pod_id);
    assert_eq!(
        pod_info.labels.get("tier").map(String::as_str),
        Some("test")
    );

    let plain_info = libpod.inspect(&plain).await.unwrap().unwrap();
    assert_eq!(plain_info.privileged, Some(false));
    assert_eq!(plain_info.pod, None);

    // podman's Docker Engine API gives the same facts in Docker's shapes.
    let docker = RuntimeClient::docker(&podman.socket);
    let dinfo = docker
        .inspect(&id)
        .await
        .unwrap()
        .expect("known to the Docker API");
    assert_eq!(dinfo.runtime, Some(ContainerRuntime::Docker));
    assert_eq!(dinfo.name, info.name);
    let dimage = dinfo.image.as_ref().unwrap();
    assert_eq!(dimage.repository, image.repository);
    assert_eq!(dimage.tag, image.tag);
    assert_eq!(dimage.id, image.id);
    assert_eq!(dimage.digest, image.digest);
    assert_eq!(dinfo.labels, info.labels);
    assert_eq!(dinfo.privileged, Some(true));
    assert_eq!(
        docker.inspect(&plain).await.unwrap().unwrap().privileged,
        Some(false)
    );

    // kubelet (cri-dockerd, containerd, CRI-O) labels its containers with the pod identity.
    let cri = podman.container(
        "cri",
        false,
        &[
            "--label",
            "io.kubernetes.pod.name=web-7d9f8c6b5-x2kqp",
            "--label",
            "io.kubernetes.pod.namespace=shop-prod",
            "--label",
            "io.kubernetes.pod.uid=22a84f4b-6dc1-484a-9ff7-0ff36e94eb85",
            "--label",
            "io.kubernetes.container.name=web",
        ],
    );
    let cri = docker
        .inspect(&ContainerId::parse(&cri).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cri.name.as_deref(), Some("web"));
    let cri_pod = cri.pod.unwrap();
    assert_eq!(
        (
            cri_pod.name.as_str(),
            cri_pod.namespace.as_str(),
            cri_pod.uid.as_str()
        ),
        (
            "web-7d9f8c6b5-x2kqp",
            "shop-prod",
            "22a84f4b-6dc1-484a-9ff7-0ff36e94eb85"
        )
    );

    // A container the runtime does not have is not an error.
    let unknown = ContainerId::parse(&"0".repeat(64)).unwrap();
    assert_eq!(libpod.inspect(&unknown).await.unwrap(), None);
    assert_eq!(docker.inspect(&unknown).await.unwrap(), None);
}
