// Container and Kubernetes pod identity from a process's cgroup v2 path (or one cgroup v1
// hierarchy's path), as the runtimes name their cgroups. Purely lexical: no /proc or runtime
// API access, so it works on paths captured from other namespaces.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace rein::process {

// The 64-lower-case-hex container id named by the innermost matching component, or nullopt.
// Recognised forms (with or without the ".scope" suffix for the prefixed ones):
//   docker-<id>.scope                 docker, systemd driver
//   cri-containerd-<id>.scope         containerd CRI, systemd driver
//   crio-<id>.scope                   CRI-O ("crio-conmon-<id>" is the monitor, not a container)
//   libpod-<id>.scope                 podman ("libpod-conmon-<id>" likewise rejected)
//   <id>                              bare id, only below a runtime parent: "docker",
//                                     "kubepods*" (cgroupfs driver), "libpod_parent", or
//                                     "k8s.io" (containerd's CRI namespace under cgroupfs)
// A bare 64-hex name anywhere else is not trusted: any process may create such a cgroup.
// Nested runtimes (docker in docker, podman inside a kube pod) yield the innermost id.
std::optional<std::string> container_id_from_cgroup(std::string_view cgroup_path);

// The pod UID from a kubepods path: "pod<uid>" below a "kubepods*" component (cgroupfs) or
// "kubepods-...-pod<uid>.slice" (systemd, where the UID's '-' are written as '_'; returned
// with '-'). UIDs are accepted as RFC 4122 text (36 chars) or as the 32-hex hash kubelet uses
// for static pods.
std::optional<std::string> pod_uid_from_cgroup(std::string_view cgroup_path);

}  // namespace rein::process
