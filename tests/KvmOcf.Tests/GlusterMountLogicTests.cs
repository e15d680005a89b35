using KvmOcf.GlusterMount;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>GlusterMount's decisions: the mount table, who uses a mount, the volume's health as
/// glusterd reports it (recorded output), and parameter checks.</summary>
public class GlusterMountLogicTests
{
    private static string Data(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", name));

    [Fact]
    public void Mountinfo_is_parsed_with_escapes_and_optional_fields()
    {
        var table = MountTable.Parse("""
            22 27 0:21 / /proc rw,relatime - proc proc rw
            132 27 0:39 / /mnt/vm\040images rw,relatime shared:5 master:1 - fuse.glusterfs 10.89.0.11:/gv0 rw,user_id=0,allow_other
            140 132 0:40 / /mnt/vm\040images/sub rw - tmpfs tmpfs rw
            """);
        Assert.Equal(3, table.Count);
        var gluster = MountTable.At(table, "/mnt/vm images")!;
        Assert.Equal((132, "fuse.glusterfs", "10.89.0.11:/gv0"), (gluster.Id, gluster.FsType, gluster.Source));
        Assert.Equal(["/mnt/vm images/sub"], MountTable.Below(table, "/mnt/vm images").Select(m => m.MountPoint));
        Assert.Null(MountTable.At(table, "/mnt"));
    }

    [Theory]
    [InlineData("/mnt/gv0", "/mnt/gv0", true)]
    [InlineData("/mnt/gv0/vm1.qcow2", "/mnt/gv0", true)]
    [InlineData("/mnt/gv0-decoy/x", "/mnt/gv0", false)]      // the prefix alone is not enough
    [InlineData("/mnt", "/mnt/gv0", false)]
    public void A_path_is_under_a_directory_only_at_a_path_boundary(string path, string dir, bool under)
    {
        Assert.Equal(under, MountTable.IsUnder(path, dir));
    }

    [Fact]
    public void Fdinfo_gives_the_mount_id_of_an_open_file()
    {
        Assert.Equal(132, Holders.MountId("pos:\t0\nflags:\t0100002\nmnt_id:\t132\nino:\t42\n"));
        Assert.Null(Holders.MountId("pos:\t0\n"));
    }

    [Fact]
    public void Holders_are_found_through_fdinfo_cwd_and_maps_and_nothing_else()
    {
        var proc = Directory.CreateTempSubdirectory("kvmocf-holders-").FullName;
        try
        {
            void Process(int pid, string cwd, int? fileMountId = null, string maps = "")
            {
                var d = Directory.CreateDirectory($"{proc}/{pid}").FullName;
                File.CreateSymbolicLink($"{d}/cwd", cwd);
                Directory.CreateDirectory($"{d}/fdinfo");
                Directory.CreateDirectory($"{d}/fd");
                if (fileMountId is { } id)
                {
                    File.WriteAllText($"{d}/fdinfo/3", $"pos:\t0\nmnt_id:\t{id}\n");
                    File.CreateSymbolicLink($"{d}/fd/3", "/somewhere/file");
                }
                File.WriteAllText($"{d}/maps", maps);
            }
            Process(100, "/", fileMountId: 132);                       // an open file on the mount (qemu's image)
            Process(101, "/mnt/gv0/dir");                              // working directory inside
            Process(102, "/mnt/gv0-decoy");                            // same prefix, another directory
            Process(103, "/", fileMountId: 99);                        // a file on another mount
            Process(104, "/", maps: "7f00-7f10 r-xp 00000000 00:39 42 /mnt/gv0/lib.so\n");
            Process(105, "/mnt/gv0/sub/x");                            // inside a sub-mount: not this mount
            var table = MountTable.Parse("132 27 0:39 / /mnt/gv0 rw - fuse.glusterfs h:/gv0 rw\n140 132 0:40 / /mnt/gv0/sub rw - tmpfs tmpfs rw\n");
            var holders = Holders.Find(MountTable.At(table, "/mnt/gv0")!, table, proc).Select(h => h.Pid).Order();
            Assert.Equal([100, 101, 104], holders);
        }
        finally { Directory.Delete(proc, recursive: true); }
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
    public void Device_is_server_colon_slash_volume(string device, bool valid)
    {
        Assert.Equal(valid, GlusterDevice.TryParse(device, out _));
    }

    [Theory]
    [InlineData("device", "gl1/gv0", "parameter 'device': 'gl1/gv0' is not server:/volume")]
    [InlineData("directory", "mnt/gv0", "parameter 'directory': 'mnt/gv0' is not an absolute path")]
    [InlineData("directory", "/", "parameter 'directory': '/' is the root directory")]
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
