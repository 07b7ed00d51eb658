using System.Linq;
using CloseWait.Platform.Linux;
using Xunit;

namespace CloseWait.Tests
{
    /// <summary>
    /// The container a process runs in, read from its /proc/&lt;pid&gt;/cgroup as each runtime and
    /// cgroup driver writes it (paths as measured on real nodes and here), and what is not a container.
    /// </summary>
    public sealed class ContainerCgroupTests
    {
        private const string Id = "d9e97bc1b686709133f5e6a8e086602741b579bf8cfff4c9658219e1258e48be";
        private const string Uid = "0f1e2d3c-1111-2222-3333-444455556666";

        [Theory]
        // docker, cgroupfs driver (this machine: v1 and v2 hybrid, no systemd)
        [InlineData("/docker/" + Id, "docker", null)]
        // docker, systemd driver
        [InlineData("/system.slice/docker-" + Id + ".scope", "docker", null)]
        // podman cgroupfs (rootful, --cgroup-manager cgroupfs) and systemd, rootless, with the v2 "container" leaf
        [InlineData("/libpod_parent/libpod-" + Id, "podman", null)]
        [InlineData("/machine.slice/libpod-" + Id + ".scope", "podman", null)]
        [InlineData("/machine.slice/libpod-" + Id + ".scope/container", "podman", null)]
        [InlineData("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + Id + ".scope", "podman", null)]
        // Kubernetes, systemd driver: containerd, CRI-O, dockershim/cri-dockerd
        [InlineData("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_1111_2222_3333_444455556666.slice/cri-containerd-" + Id + ".scope", "containerd", Uid)]
        [InlineData("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_1111_2222_3333_444455556666.slice/crio-" + Id + ".scope", "cri-o", Uid)]
        [InlineData("/kubepods.slice/kubepods-pod0f1e2d3c_1111_2222_3333_444455556666.slice/docker-" + Id + ".scope", "docker", Uid)]
        // Kubernetes, cgroupfs driver: a bare id, whatever the runtime (so the runtime stays unknown)
        [InlineData("/kubepods/besteffort/pod" + Uid + "/" + Id, null, Uid)]
        [InlineData("/kubepods/pod" + Uid + "/" + Id, null, Uid)]
        [InlineData("/kubepods/besteffort/pod" + Uid + "/cri-containerd-" + Id + ".scope", "containerd", Uid)]
        public void NamesTheContainer(string path, string? runtime, string? podUid)
        {
            var found = LinuxContainerCgroup.ParsePath(path);
            Assert.NotNull(found);
            Assert.Equal(Id, found!.ContainerId);
            Assert.Equal(runtime, found.Runtime);
            Assert.Equal(podUid, found.PodUid);
        }

        [Theory]
        [InlineData("/")]
        [InlineData("/init.scope")]
        [InlineData("/system.slice/docker.service")]
        [InlineData("/system.slice/containerd.service")]
        [InlineData("/user.slice/user-0.slice/session-1.scope")]
        // conmon's own scopes hold the monitor, not the container
        [InlineData("/machine.slice/libpod-conmon-" + Id + ".scope")]
        [InlineData("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_1111_2222_3333_444455556666.slice/crio-conmon-" + Id + ".scope")]
        // a pod's own slice, with no container below it
        [InlineData("/kubepods/besteffort/pod" + Uid)]
        // 64 hex digits outside docker and kubepods say nothing
        [InlineData("/somewhere/" + Id)]
        // a short id is not a container id
        [InlineData("/docker/d9e97bc1b686")]
        public void ReturnsNullForWhatIsNoContainer(string path)
        {
            Assert.Null(LinuxContainerCgroup.ParsePath(path));
        }

        [Fact]
        public void ReadsEveryLineOfACgroupV1AndV2File()
        {
            string v1 = string.Join("\n", new[] { "cpu", "memory", "pids" }.Select((c, i) => $"{i + 1}:{c}:/docker/{Id}")) + "\n0::/docker/" + Id + "\n";
            Assert.Equal(Id, LinuxContainerCgroup.Parse(v1)!.ContainerId);

            // Hybrid host where the unified hierarchy is not used by the runtime: the v1 lines tell.
            string hybrid = $"9:name=systemd:/docker/{Id}\n8:pids:/docker/{Id}\n0::/\n";
            Assert.Equal("docker", LinuxContainerCgroup.Parse(hybrid)!.Runtime);

            string v2 = "0::/system.slice/docker-" + Id + ".scope\n";
            Assert.Equal(Id, LinuxContainerCgroup.Parse(v2)!.ContainerId);

            Assert.Null(LinuxContainerCgroup.Parse("0::/user.slice/user-0.slice/session-3.scope\n"));
            Assert.Null(LinuxContainerCgroup.Parse(string.Empty));
            Assert.Null(LinuxContainerCgroup.Parse("garbage without colons\n"));
        }

        [Theory]
        [InlineData("kube-system_coredns-5d78c9869d-abcde_" + Uid, "kube-system", "coredns-5d78c9869d-abcde")]
        [InlineData("default_web-0_" + Uid, "default", "web-0")]
        public void ParsesTheKubeletPodLogFolder(string folder, string ns, string name)
        {
            var pod = LinuxContainers.ParsePodLogFolder(folder);
            Assert.NotNull(pod);
            Assert.Equal(ns, pod!.Value.Namespace);
            Assert.Equal(name, pod.Value.Name);
            Assert.Equal(Uid, pod.Value.Uid);
        }

        [Theory]
        [InlineData("default_web-0")]
        [InlineData("default__" + Uid)]
        [InlineData("a_b_c_" + Uid)]
        [InlineData("default_web-0_not-a-uid")]
        public void RefusesOtherFolders(string folder)
        {
            Assert.Null(LinuxContainers.ParsePodLogFolder(folder));
        }

        [Fact]
        public void MatchesAContainerByNameIdOrUniquePrefix()
        {
            var a = Info("/docker/" + Id, "web");
            var b = Info("/docker/" + "d9e97bc1b686" + new string('0', 52), "db");
            var all = new[] { a, b };
            Assert.Equal(new[] { a }, LinuxContainers.Match(all, "web"));
            Assert.Equal(new[] { a }, LinuxContainers.Match(all, Id));
            Assert.Equal(new[] { a }, LinuxContainers.Match(all, "d9e97bc1b6867"));
            Assert.Equal(2, LinuxContainers.Match(all, "d9e97").Count);
            Assert.Equal(2, LinuxContainers.Match(all, "D9E97").Count);
            Assert.Empty(LinuxContainers.Match(all, "nothere"));
            Assert.Empty(LinuxContainers.Match(all, "ffff"));
        }

        [Fact]
        public void OptionValueReadsBothForms()
        {
            Assert.Equal("/srv/docker", LinuxContainers.OptionValue(new[] { "dockerd", "--data-root", "/srv/docker" }, "--data-root", "-g"));
            Assert.Equal("/srv/docker", LinuxContainers.OptionValue(new[] { "dockerd", "--data-root=/srv/docker" }, "--data-root", "-g"));
            Assert.Equal("/old", LinuxContainers.OptionValue(new[] { "dockerd", "-g", "/old" }, "--data-root", "-g"));
            Assert.Null(LinuxContainers.OptionValue(new[] { "dockerd", "--data-root" }, "--data-root"));
        }

        [Theory]
        [InlineData("net:[4026531833]", 4026531833UL)]
        [InlineData("net:[1]", 1UL)]
        public void ParsesANamespaceLink(string link, ulong inode)
        {
            Assert.Equal(inode, LinuxNetworkNamespace.ParseNamespaceLink(link));
        }

        [Theory]
        [InlineData(null)]
        [InlineData("mnt:[4026531833]")]
        [InlineData("net:[]")]
        [InlineData("net:[12a]")]
        [InlineData("/run/netns/blue")]
        public void RefusesOtherLinks(string? link)
        {
            Assert.Null(LinuxNetworkNamespace.ParseNamespaceLink(link));
        }

        private static LinuxContainerInfo Info(string path, string name) =>
            new LinuxContainerInfo(LinuxContainerCgroup.ParsePath(path)!) { ContainerName = name };
    }
}
