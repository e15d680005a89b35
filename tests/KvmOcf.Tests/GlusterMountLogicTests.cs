using KvmOcf.GlusterMount;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>GlusterMount's decisions: the mount table, who uses a mount, the volume's health as
/// glusterd reports it (recorded output), and parameter checks.</summary>
public class GlusterMountLogicTests
{
    private static string Data(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", name));

    [Fact]
    public void Mountinfo_is_parsed_with_escapes_devices_and_optional_fields()
    {
        var table = MountTable.Parse("""
            22 27 0:21 / /proc rw,relatime - proc proc rw
            132 27 0:39 / /mnt/vm\040images rw,relatime shared:5 master:1 - fuse.glusterfs 10.89.0.11:/gv0 rw,user_id=0,allow_other
            140 132 0:40 / /mnt/vm\040images/sub rw - tmpfs tmpfs rw
            """);
        Assert.Equal(3, table.Count);
        var gluster = MountTable.At(table, "/mnt/vm images")!;
        Assert.Equal((132, new DeviceNumber(0, 39), "fuse.glusterfs", "10.89.0.11:/gv0"), (gluster.Id, gluster.Device, gluster.FsType, gluster.Source));
        Assert.Equal(["/mnt/vm images/sub"], MountTable.Below(table, gluster).Select(m => m.MountPoint));
        Assert.Null(MountTable.At(table, "/mnt"));
    }

    [Fact]
    public void Below_a_mount_is_its_subtree_not_what_it_hides()
    {
        var table = MountTable.Parse("""
            27 1 254:0 / / rw - ext4 /dev/vda rw
            50 27 0:50 / /mnt/gv0/old rw - tmpfs tmpfs rw
            132 27 0:39 / /mnt/gv0 rw - fuse.glusterfs h:/gv0 rw
            140 132 0:40 / /mnt/gv0/sub rw - tmpfs tmpfs rw
            141 140 0:41 / /mnt/gv0/sub/deeper rw - tmpfs tmpfs rw
            142 27 0:42 / /mnt/gv0-decoy rw - tmpfs tmpfs rw
            """);
        Assert.Equal(["/mnt/gv0/sub", "/mnt/gv0/sub/deeper"], MountTable.Below(table, MountTable.At(table, "/mnt/gv0")!).Select(m => m.MountPoint));
    }

    [Theory]
    [InlineData("0:39", 0u, 39u)]
    [InlineData("253:3", 253u, 3u)]
    public void Device_numbers_parse_as_mountinfo_writes_them(string text, uint major, uint minor)
    {
        Assert.Equal(new DeviceNumber(major, minor), DeviceNumber.Parse(text));
        Assert.Null(DeviceNumber.Parse("x:1"));
        Assert.Null(DeviceNumber.Parse("39"));
    }

    [Theory]
    [InlineData("7f6a5c000000-7f6a5c021000 rw-s 00000000 00:27 1234                       /mnt/gv0/vm1.img", "0:39")]
    [InlineData("55d0c2a00000-55d0c2a21000 rw-p 00000000 fd:01 42 /usr/bin/qemu-system-x86_64", "253:1")]
    [InlineData("7ffd1c0e0000-7ffd1c101000 rw-p 00000000 00:00 0                          [stack]", "0:0")]
    public void Maps_lines_give_the_device_in_hex(string line, string device)
    {
        Assert.Equal(DeviceNumber.Parse(device), Holders.MappedDevice(line));
    }

    [Theory]
    [InlineData("/mnt/gv0", "/mnt/gv0", true)]
    [InlineData("/mnt/gv0/vm1.qcow2", "/mnt/gv0", true)]
    [InlineData("/mnt/gv0-decoy/x", "/mnt/gv0", false)]      // the prefix alone is not enough
    [InlineData("/mnt", "/mnt/gv0", false)]
    public void A_path_is_under_a_directory_only_at_a_path_boundary(string path, string dir, bool under)
    {
        Assert.Equal(under, MountPath.IsUnder(path, dir));
    }

    [Theory]
    [InlineData("/srv/vms", "/srv/vms")]
    [InlineData("/srv//vms", "/srv/vms")]
    [InlineData("/srv/vms/", "/srv/vms")]
    [InlineData("//srv/./vms//", "/srv/vms")]
    [InlineData("/mnt/vm images", "/mnt/vm images")]
    public void Directories_are_compared_in_the_mount_tables_spelling(string directory, string canonical)
    {
        Assert.Equal(canonical, MountPath.Canonical(directory, out _));
    }

    [Theory]
    [InlineData("/srv/vms/..", "contains '..' (name the directory itself)")]
    [InlineData("/srv/../srv/vms", "contains '..' (name the directory itself)")]
    [InlineData("/", "is the root directory")]
    [InlineData("//./", "is the root directory")]
    [InlineData("srv/vms", "is not an absolute path")]
    [InlineData("/srv/v\nms", "contains a control character")]
    public void Directories_without_a_canonical_form_are_refused(string directory, string problem)
    {
        Assert.Null(MountPath.Canonical(directory, out var why));
        Assert.Equal(problem, why);
    }

    [Theory]
    [InlineData("/usr", "/usr")]
    [InlineData("/var", "/var")]
    [InlineData("/var/lib", "/var/lib/glusterd")]
    [InlineData("/srv/ha", "/srv/ha/tmp")]                     // HA_RSCTMP
    [InlineData("/opt", "/opt/ocf")]                           // OCF_ROOT
    [InlineData("/srv/vms", null)]
    [InlineData("/var/lib/vmstore", null)]
    [InlineData("/usr/local/vmstore", null)]
    public void A_mount_never_covers_the_system_or_the_clusters_state(string directory, string? covered)
    {
        Assert.Equal(covered, MountPath.Covers(directory, [.. GlusterMountAgent.NeverCovered, "/srv/ha/tmp/", "/opt/ocf"]));
    }

    [Fact]
    public void A_directory_that_covers_the_nodes_state_is_refused_by_start_and_never_hides_a_mount()
    {
        var env = new Dictionary<string, string> { ["OCF_RESKEY_device"] = "gl1:/gv0", ["OCF_RESKEY_directory"] = "/srv/ha//", ["HA_RSCTMP"] = "/srv/ha/rsctmp" };
        foreach (var action in new[] { "start", "validate-all" })
        {
            var outcome = Outcome.Run(new GlusterMountAgent(), action, env);
            Assert.Equal(6, outcome.ExitCode);
            Assert.Equal("parameter 'directory': '/srv/ha//' would cover /srv/ha/rsctmp", outcome.ExitReason);
        }
        // nothing is mounted there: the other actions say so, and log the problem
        var probe = Outcome.Run(new GlusterMountAgent(), "monitor", new Dictionary<string, string>(env) { ["OCF_RESKEY_CRM_meta_interval"] = "0" });
        Assert.Equal(7, probe.ExitCode);
        Assert.Contains("would cover /srv/ha/rsctmp (start would refuse this configuration)", probe.Stderr);
        Assert.Equal(0, Outcome.Run(new GlusterMountAgent(), "stop", env).ExitCode);
    }

    [Fact]
    public void Fdinfo_gives_the_mount_id_of_an_open_file()
    {
        Assert.Equal(132, Holders.MountId("pos:\t0\nflags:\t0100002\nmnt_id:\t132\nino:\t42\n"));
        Assert.Null(Holders.MountId("pos:\t0\n"));
    }

    [Fact]
    public void Holders_are_found_by_device_in_any_namespace_and_nothing_else()
    {
        // The volume here is /dev's filesystem (a real one, so statx of the cwd links can see it);
        // other processes use / and /proc, which are other filesystems.
        var dev = Statx.Device("/dev", out _)!.Value;
        var volume = new DeviceNumber(dev.Major, dev.Minor);
        Assert.NotEqual(Statx.Device("/dev", out _), Statx.Device("/proc", out _));
        var proc = Directory.CreateTempSubdirectory("kvmocf-holders-").FullName;
        try
        {
            var here = $"27 1 254:0 / / rw - ext4 /dev/vda rw\n132 27 {volume} / /mnt/gv0 rw - fuse.glusterfs h:/gv0 rw\n";
            void Process(int pid, string cwd, string ns = "mnt:[1]", string? mountinfo = null, int? fileMountId = null, string file = "/dev/null", string maps = "")
            {
                var d = Directory.CreateDirectory($"{proc}/{pid}").FullName;
                File.CreateSymbolicLink($"{d}/cwd", cwd);
                Directory.CreateDirectory($"{d}/ns");
                File.CreateSymbolicLink($"{d}/ns/mnt", ns);
                File.WriteAllText($"{d}/mountinfo", mountinfo ?? here);
                Directory.CreateDirectory($"{d}/fdinfo");
                Directory.CreateDirectory($"{d}/fd");
                if (fileMountId is { } id)
                {
                    File.WriteAllText($"{d}/fdinfo/3", $"pos:\t0\nmnt_id:\t{id}\n");
                    File.CreateSymbolicLink($"{d}/fd/3", file);
                }
                File.WriteAllText($"{d}/maps", maps);
                File.WriteAllText($"{d}/comm", "p" + pid);
            }
            var libvirts = $"900 899 254:0 / / rw - ext4 /dev/vda rw\n901 900 {volume} / /mnt/gv0 rw - fuse.glusterfs h:/gv0 rw\n";
            Process(100, "/", fileMountId: 132, file: "/mnt/gv0/vm1.img");                    // an open file on the mount
            Process(101, "/dev");                                                               // working directory on it
            Process(102, "/proc");                                                              // another filesystem
            Process(103, "/", fileMountId: 27, file: "/etc/passwd");                            // a file on another mount
            Process(104, "/", maps: $"7f00-7f10 r-xp 00000000 {volume.Major:x2}:{volume.Minor:x2} 42 /mnt/gv0/lib.so\n");
            Process(105, "/", ns: "mnt:[2]", mountinfo: libvirts, fileMountId: 901);          // qemu in libvirt's namespace: other mount ID
            Process(106, "/", ns: "mnt:[3]", fileMountId: 555);                               // a mount detached since: the file is asked
            Process(107, "/", ns: "mnt:[4]", mountinfo: "27 1 254:0 / / rw - ext4 /dev/vda rw\n132 27 0:99 / /mnt/gv0 rw - tmpfs t rw\n",
                fileMountId: 132, file: "/mnt/gv0/x");                                          // look-alike path and ID, another filesystem
            var holders = Holders.Find(volume, proc);
            Assert.Equal([100, 101, 104, 105, 106], holders.Select(h => h.Pid).Order());
            Assert.Equal("process 105 (p105: open file /dev/null)", holders.Single(h => h.Pid == 105).ToString());
            Assert.StartsWith("cwd /dev", holders.Single(h => h.Pid == 101).Use);
        }
        finally { Directory.Delete(proc, recursive: true); }
    }

    [Fact]
    public void Bricks_are_named_in_glusterfsd_argv()
    {
        Assert.Equal("/data/brick1/gv0", GlusterProcesses.Brick(["/usr/sbin/glusterfsd", "-s", "gl1", "--brick-name", "/data/brick1/gv0", "-l", "x.log"]));
        Assert.Null(GlusterProcesses.Brick(["/usr/sbin/glusterfsd", "--brick-name"]));
    }

    [Fact]
    public void Volume_status_lists_bricks_and_their_state()
    {
        var healthy = VolumeHealth.Parse(Data("gluster-volume-status.xml"), "gv0")!;
        Assert.Equal(3, healthy.Count);                           // the self-heal daemons are not bricks
        Assert.All(healthy, b => Assert.True(b.Online));
        var degraded = VolumeHealth.Parse(Data("gluster-volume-status-brick-down.xml"), "gv0")!;
        Assert.Equal(["10.89.0.12"], degraded.Where(b => !b.Online).Select(b => b.Host));
        Assert.Null(VolumeHealth.Parse(Data("gluster-volume-status.xml"), "other"));
        Assert.Null(VolumeHealth.Parse("<cliOutput><opRet>-1</opRet><opErrstr>Volume nosuch does not exist</opErrstr></cliOutput>", "nosuch"));
        Assert.Null(VolumeHealth.Parse("Connection failed. Please check if gluster daemon is operational.", "gv0"));
    }

    [Theory]
    [InlineData("gl1:/gv0", true)]
    [InlineData("10.89.0.11:/gv0/images", true)]
    [InlineData("[fe80::1]:/gv0", true)]
    [InlineData("gl1.example.com:/vm_images-1", true)]
    [InlineData("gl1/gv0", false)]
    [InlineData("gl1:/", false)]
    [InlineData(":/gv0", false)]
    [InlineData("gl1:/gv 0", false)]
    [InlineData("-o:/gv0", false)]
    [InlineData("gl1:/-gv0", false)]                          // would reach the gluster CLI as an option
    [InlineData("gl1:-gv0", false)]
    [InlineData("gl1:/.gv0", false)]
    [InlineData("gl1:/gv0/../x", false)]
    [InlineData("gl1:gv0", true)]                              // as mount.glusterfs allows, and the mount table may show
    public void Device_is_server_colon_slash_volume(string device, bool valid)
    {
        Assert.Equal(valid, GlusterDevice.TryParse(device, out _));
    }

    [Theory]
    [InlineData("gl1:/gv0", "gl2:gv0", true)]
    [InlineData("gl1:/gv0//images/", "10.0.0.1:/gv0/images", true)]
    [InlineData("gl1:/gv0/images", "gl1:/gv0", false)]
    [InlineData("gl1:/gv0", "gl1:/gv1", false)]
    public void Two_spellings_of_one_mount_are_the_same_mount(string a, string b, bool same)
    {
        Assert.True(GlusterDevice.TryParse(a, out var x));
        Assert.True(GlusterDevice.TryParse(b, out var y));
        Assert.Equal(same, x.SameMount(y));
    }

    [Theory]
    [InlineData("device", "gl1/gv0", "parameter 'device': 'gl1/gv0' is not server:/volume")]
    [InlineData("directory", "mnt/gv0", "parameter 'directory': 'mnt/gv0' is not an absolute path")]
    [InlineData("directory", "/", "parameter 'directory': '/' is the root directory")]
    [InlineData("directory", "/srv/vms/..", "parameter 'directory': '/srv/vms/..' contains '..' (name the directory itself)")]
    [InlineData("directory", "/var/lib/", "parameter 'directory': '/var/lib/' would cover /var/lib/glusterd")]
    [InlineData("device", "gl1:/-gv0", "parameter 'device': 'gl1:/-gv0' names a volume beginning with '-'")]
    [InlineData("options", "ro, noatime", "parameter 'options': 'ro, noatime' must not contain white space, quotes or backslashes")]
    [InlineData("options", "ro,,noatime", "parameter 'options': 'ro,,noatime' has an empty option")]
    [InlineData("force_unmount", "yes", "parameter 'force_unmount': 'yes' must be one of true, safe, false")]
    [InlineData("statusfile_prefix", "../x", "parameter 'statusfile_prefix': '../x' must be a relative path inside the mount")]
    public void Bad_parameters_are_configuration_errors(string name, string value, string reason)
    {
        var env = new Dictionary<string, string> { ["OCF_RESKEY_device"] = "gl1:/gv0", ["OCF_RESKEY_directory"] = "/mnt/gv0", ["OCF_RESKEY_" + name] = value };
        var outcome = Outcome.Run(new GlusterMountAgent(), "start", env);
        Assert.Equal(6, outcome.ExitCode);
        Assert.Equal(reason, outcome.ExitReason);
    }

    [Fact]
    public void Declaration_is_consistent()
    {
        Assert.Empty(new GlusterMountAgent().Parameters.SelectMany(p => p.DeclarationErrors()));
        var root = Xml.Parse(Metadata.Xml(new GlusterMountAgent()));
        Assert.Equal(".Filesystem_status/", root.Descendants("parameter").Single(p => p.Attribute("name") == "statusfile_prefix").Element("content")!.Attribute("default"));
    }
}
