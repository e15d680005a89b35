namespace KvmOcf.Fence;

/// <summary>The options fencing.py's agents share (its <c>all_opt</c>), with their names, old names,
/// letters and defaults, so that an agent configured for a ClusterLabs agent reads the same. An
/// agent lists the ones it uses next to its own.</summary>
public static class StandardOptions
{
    public static readonly FenceOption Action = new(new StringParameter("action")
    {
        ShortDescription = "Fencing action",
        LongDescription = "on, off, reboot, status, list, list-status, monitor, metadata, manpage or validate-all.",
    }, 'o');

    public static readonly FenceOption Plug = new(new StringParameter("plug")
    {
        FormerNames = ["port"],
        ShortDescription = "What to fence (a guest's name or UUID, a node …); several separated by plug_separator",
        LongDescription = "What to fence.",
    }, 'n');

    public static readonly FenceOption Ip = new(new StringParameter("ip")
    {
        FormerNames = ["ipaddr"],
        ShortDescription = "IP address or hostname of fencing device",
        LongDescription = "The fence device's address.",
    }, 'a');

    public static readonly FenceOption IpPort = new(new IntegerParameter("ipport")
    {
        Default = 0, Minimum = 0, Maximum = 65535,
        ShortDescription = "TCP/UDP port to use for connection with device (0: the device's default)",
        LongDescription = "The fence device's port.",
    }, 'u');

    public static readonly FenceOption Username = new(new StringParameter("username")
    {
        FormerNames = ["login"],
        ShortDescription = "Login name",
        LongDescription = "The user to log in to the fence device as.",
    }, 'l');

    public static readonly FenceOption Password = new(new StringParameter("password")
    {
        FormerNames = ["passwd"],
        Secret = true,
        ShortDescription = "Login password or passphrase",
        LongDescription = "Never shown, logged or passed on a command line.",
    }, 'p');

    public static readonly FenceOption PasswordScript = new(new StringParameter("password_script")
    {
        FormerNames = ["passwd_script"],
        ShortDescription = "Script to run to retrieve password",
        LongDescription = "A program (and its arguments, split as a shell would, but run without one) whose first line of output is the password.",
    }, 'S');

    public static readonly FenceOption Delay = new(new TimeParameter("delay")
    {
        Default = TimeSpan.Zero, Maximum = TimeSpan.FromHours(1),
        ShortDescription = "Wait X seconds before fencing is started",
        LongDescription = "Before off and reboot only (a two-node cluster's fence race).",
    });

    public static readonly FenceOption PowerTimeout = new(new TimeParameter("power_timeout")
    {
        Default = TimeSpan.FromSeconds(20), Maximum = TimeSpan.FromHours(1),
        ShortDescription = "Test X seconds for status change after ON/OFF",
        LongDescription = "How long the new power state has to show; longer is a failure, never a success.",
    });

    public static readonly FenceOption PowerWait = new(new TimeParameter("power_wait")
    {
        Default = TimeSpan.Zero, Maximum = TimeSpan.FromHours(1),
        ShortDescription = "Wait X seconds after issuing ON/OFF",
        LongDescription = "A pause after each power command, before its result is checked.",
    });

    public static readonly FenceOption StatusSleep = new(new TimeParameter("stonith_status_sleep")
    {
        Default = TimeSpan.FromSeconds(1), Maximum = TimeSpan.FromMinutes(10),
        ShortDescription = "Sleep X seconds between status calls during a STONITH action",
        LongDescription = "The interval of the status polls that verify a power change.",
    });

    public static readonly FenceOption RetryOn = new(new IntegerParameter("retry_on")
    {
        Default = 1, Minimum = 0, Maximum = 100,
        ShortDescription = "Count of attempts to retry power on",
        LongDescription = "How many more times to try powering on.",
    });

    public static readonly FenceOption Method = new(new SelectParameter("method", "onoff", "cycle")
    {
        Default = "onoff",
        ShortDescription = "Method to fence",
        LongDescription = "reboot as off then on (onoff), or as the device's own power cycle (cycle); both verified.",
    }, 'm');

    public static readonly FenceOption PlugSeparator = new(new StringParameter("plug_separator")
    {
        Default = ",",
        ShortDescription = "Separator for plug parameter when specifying more than 1 plug",
        LongDescription = "Several plugs are fenced together: all off, then all verified off.",
    });

    public static readonly FenceOption Separator = new(new StringParameter("separator")
    {
        Default = ",",
        ShortDescription = "Separator for CSV created by 'list' operation",
        LongDescription = "Between the columns of list and list-status.",
    }, 'c');

    public static readonly FenceOption MissingAsOff = new(new BooleanParameter("missing_as_off")
    {
        ShortDescription = "Missing port returns OFF instead of failure",
        LongDescription = "A plug the device does not know counts as off. Only for devices that really forget what is " +
            "powered off; by default it is a failure, never off.",
    });

    public static readonly FenceOption DisableTimeout = new(new BooleanParameter("disable_timeout")
    {
        ShortDescription = "Disable timeout (true/false) (default: true when run from Pacemaker 2.0+)",
        LongDescription = "Leave the end of a verification to pacemaker-fenced's own timeout instead of power_timeout " +
            "(each call to the device stays bounded).",
    });

    public static readonly FenceOption Verbose = new(new BooleanParameter("verbose")
    {
        ShortDescription = "Verbose mode",
        LongDescription = "Debug messages on stderr.",
    }, 'v');

    /// <summary>What every agent reads: the action, its timing and verification.</summary>
    public static IReadOnlyList<FenceOption> Common =>
        [Action, Delay, PowerTimeout, PowerWait, StatusSleep, RetryOn, DisableTimeout, Verbose];
}
